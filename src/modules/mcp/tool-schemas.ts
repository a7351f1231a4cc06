import { z } from 'zod';
import { NETWORK_POLICIES, TASK_MODES, TASK_STATUSES, type Task } from '../../domain/task';
import { LIMITS } from '../../domain/task.schema';

/** Input fields shared by several tools; camelCase as in the public contract. */
export const fields = {
  taskId: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .describe('Task id as returned by create_task_sandbox or list_tasks, e.g. "tsk_01j…".'),
  agentId: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(200)
    .describe(
      'Your agent id: a stable name for you, e.g. "claude-1". Use the same one throughout.',
    ),
  actingAgentId: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(200)
    .optional()
    .describe(
      'Your agent id. When given, the call is refused (NOT_ATTACHED, LOCK_HELD, LEASE_EXPIRED) unless you hold a live attachment to the task (attach_agent_to_task); a successful call renews it.',
    ),
  expectedVersion: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(
      'Optional optimistic-concurrency guard: refuse with CONFLICT unless the task is still at this version (the "version" field of get_task_status).',
    ),
};

/** Output shape of one task. Loose objects: new fields added later must not break old clients. */
export const taskShape = {
  taskId: z.string(),
  name: z.string(),
  description: z.string().optional(),
  owner: z.string(),
  mode: z.enum(TASK_MODES),
  status: z.enum(TASK_STATUSES),
  version: z.number().int(),
  metadata: z.record(z.string(), z.unknown()),
  sandbox: z.looseObject({}).optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
  result: z.unknown().optional(),
  error: z.string().optional(),
};

export const taskObject = z.looseObject(taskShape);

/** A task as tools show it: `id` is named `taskId` like every tool argument. */
export function taskView(task: Task): Record<string, unknown> {
  const { id, ...rest } = task;
  return { taskId: id, ...rest };
}

/** One human line about a task, used as the text block of task results. */
export function taskLine(task: Task): string {
  return `Task ${task.id} "${task.name}" is ${task.status} (mode ${task.mode}, owner ${task.owner}, version ${task.version}).`;
}

export const sandboxInput = {
  image: z
    .string()
    .min(1)
    .max(512)
    .optional()
    .describe(
      'Container image for the sandbox, e.g. "node:20-bookworm". Default: the operator default image.',
    ),
  limits: z
    .object({
      cpus: z
        .number()
        .positive()
        .max(1024)
        .optional()
        .describe('CPUs, fractions allowed, e.g. 0.5'),
      memoryMb: z.number().int().min(6).optional().describe('Memory limit in MiB, e.g. 512'),
      pids: z.number().int().min(8).optional().describe('Maximum number of processes, e.g. 256'),
    })
    .strict()
    .optional()
    .describe('Resource limits; unset fields take the operator defaults.'),
  network: z
    .enum(NETWORK_POLICIES)
    .optional()
    .describe(
      'Network access: "none" (default, no network), "internal" (sandboxes only) or "bridge" (internet).',
    ),
  env: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'names are [A-Za-z_][A-Za-z0-9_]*'),
      z.string(),
    )
    .optional()
    .describe('Environment variables for commands in the sandbox, e.g. {"CI":"1"}.'),
  workdir: z
    .string()
    .startsWith('/', 'must be an absolute path')
    .optional()
    .describe(
      'Working directory inside the sandbox, an absolute path. Default: the image default.',
    ),
};

export const listLimits = { max: LIMITS.listMax, default: LIMITS.listDefault };
