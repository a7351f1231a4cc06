import { Injectable, Optional } from '@nestjs/common';
import { z } from 'zod';
import { EXECUTION_LIMITS } from '../../../domain/execution';
import { HISTORY_LIMITS, LOG_LEVELS, type Checkpoint } from '../../../domain/history';
import { CheckpointsService } from '../../history/checkpoints.service';
import { DecisionsService } from '../../history/decisions.service';
import { ExecutionsService } from '../../history/executions.service';
import { TaskLogService } from '../../history/task-log.service';
import { AgentAttachmentService } from '../../locks/agent-attachment.service';
import {
  defineTool,
  type McpToolDefinition,
  type McpToolProvider,
  type ToolContext,
} from '../mcp-tool';
import { fields, taskLine, taskShape, taskView } from '../tool-schemas';

const isoTime = (what: string) =>
  z.iso
    .datetime({ offset: true })
    .optional()
    .describe(`ISO-8601 date-time; only entries ${what} it.`);
const includeRewound = z
  .boolean()
  .optional()
  .describe('Include entries a checkpoint restore rewound (marked rewoundBy). Default true.');
const page = (max: number, def: number) => ({
  limit: z
    .number()
    .int()
    .min(1)
    .max(max)
    .optional()
    .describe(`Page size, 1-${max}; default ${def}.`),
  offset: z.number().int().min(0).optional().describe('Entries to skip; default 0.'),
});
const order = (def: 'asc' | 'desc') =>
  z.enum(['asc', 'desc']).optional().describe(`Order by time; default ${def}.`);
const checkpointId = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .describe('Checkpoint id as returned by checkpoint_task or list_checkpoints, e.g. "chk_01j…".');

/** Progress callback of the history services → MCP progress notifications, numbered by step. */
function stepper(ctx: ToolContext) {
  let step = 0;
  return (message: string) => void ctx.progress(++step, undefined, message);
}

function checkpointView(cp: Checkpoint) {
  return {
    checkpointId: cp.id,
    taskId: cp.taskId,
    description: cp.description,
    createdAt: cp.createdAt,
    ...(cp.agentId ? { agentId: cp.agentId } : {}),
    taskStatus: cp.task.status,
    stateVersion: cp.state?.version ?? null,
    hasSandboxSnapshot: !!cp.snapshot,
  };
}
const checkpointShape = {
  checkpointId: z.string(),
  taskId: z.string(),
  description: z.string(),
  createdAt: z.string(),
  agentId: z.string().optional(),
  hasSandboxSnapshot: z.boolean(),
};

/**
 * Task memory over MCP: checkpoints (create, list, restore, fork), logs, decisions and the
 * executions journal. Each group appears when its service is in the container.
 */
@Injectable()
export class HistoryTools implements McpToolProvider {
  constructor(
    @Optional() private readonly checkpoints?: CheckpointsService,
    @Optional() private readonly logs?: TaskLogService,
    @Optional() private readonly decisions?: DecisionsService,
    @Optional() private readonly executions?: ExecutionsService,
    @Optional() private readonly attachments?: AgentAttachmentService,
  ) {}

  /** Acting for an agent requires its live attachment, as for every other write. */
  private async actingAs(taskId: string, agentId: string | undefined): Promise<void> {
    if (agentId !== undefined && this.attachments) {
      await this.attachments.assertAttached(taskId, agentId);
    }
  }

  tools(): McpToolDefinition[] {
    return [
      ...this.checkpointTools(),
      ...this.logTools(),
      ...this.decisionTools(),
      ...this.executionTools(),
    ];
  }

  private checkpointTools(): McpToolDefinition[] {
    const checkpoints = this.checkpoints;
    if (!checkpoints) return [];
    const actingAs = (t: string, a?: string) => this.actingAs(t, a);
    return [
      defineTool({
        name: 'checkpoint_task',
        title: 'Checkpoint a task',
        description:
          "Save a named snapshot of the task: its state, log position, decisions and executions, and its sandbox's filesystem when it has one. Restore it later with restore_checkpoint, or fork a new task from it.",
        input: {
          taskId: fields.taskId,
          description: z
            .string()
            .trim()
            .min(1, 'must not be empty; say what this checkpoint is')
            .max(HISTORY_LIMITS.checkpointDescriptionMax)
            .describe('What this point is, e.g. "tests green, before the refactor".'),
          agentId: fields.actingAgentId,
        },
        output: checkpointShape,
        annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
        async handler(a, ctx) {
          await actingAs(a.taskId, a.agentId);
          const cp = await checkpoints.create(
            { taskId: a.taskId, description: a.description, agentId: a.agentId },
            stepper(ctx),
          );
          return {
            structured: checkpointView(cp),
            text: `Checkpoint ${cp.id} of task ${cp.taskId} saved: "${cp.description}".`,
          };
        },
      }),
      defineTool({
        name: 'list_checkpoints',
        title: 'List checkpoints',
        description: "A task's checkpoints, oldest first.",
        input: { taskId: fields.taskId },
        output: { checkpoints: z.array(z.looseObject(checkpointShape)) },
        annotations: { readOnlyHint: true, idempotentHint: true },
        async handler(a) {
          const list = await checkpoints.list(a.taskId);
          return {
            structured: { checkpoints: list.map(checkpointView) },
            text: list.length
              ? `${list.length} checkpoint(s):${list.map((c) => `\n- ${c.id} ${c.createdAt} "${c.description}"`).join('')}`
              : `Task ${a.taskId} has no checkpoints.`,
          };
        },
      }),
      defineTool({
        name: 'restore_checkpoint',
        title: 'Restore a checkpoint',
        description:
          'Rewind a task to a checkpoint: its state and sandbox go back; later log entries, decisions and executions are kept but marked rewound. A finished task goes back to "pending" (resume it with resume_task).',
        input: { taskId: fields.taskId, checkpointId, agentId: fields.actingAgentId },
        output: {
          checkpointId: z.string(),
          task: z.looseObject(taskShape),
          rewound: z.looseObject({}),
        },
        annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
        async handler(a, ctx) {
          await actingAs(a.taskId, a.agentId);
          const r = await checkpoints.restore(a.taskId, a.checkpointId, stepper(ctx));
          return {
            structured: {
              checkpointId: r.checkpoint.id,
              task: taskView(r.task),
              rewound: r.rewound,
            },
            text: `Restored to checkpoint ${r.checkpoint.id} ("${r.checkpoint.description}"); ${r.rewound.decisions} decision(s) and ${r.rewound.executions} execution(s) rewound. ${taskLine(r.task)}`,
          };
        },
      }),
      defineTool({
        name: 'fork_task',
        title: 'Fork a task from a checkpoint',
        description:
          "Create a new pending task from a checkpoint: the checkpoint's state, log, decisions and sandbox, independent of the original. Use it to try another approach.",
        input: {
          taskId: fields.taskId,
          checkpointId,
          name: z
            .string()
            .trim()
            .min(1)
            .max(200)
            .optional()
            .describe('Name of the new task; default "<original name> (fork)".'),
        },
        output: taskShape,
        annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
        async handler(a, ctx) {
          const child = await checkpoints.fork(a.taskId, a.checkpointId, a.name, stepper(ctx));
          return { structured: taskView(child), text: `Forked. ${taskLine(child)}` };
        },
      }),
    ];
  }

  private logTools(): McpToolDefinition[] {
    const logs = this.logs;
    if (!logs) return [];
    return [
      defineTool({
        name: 'read_task_logs',
        title: "Read a task's log",
        description:
          "Read a task's log (lifecycle events, checkpoints, what agents wrote). Without tail/limit/offset returns the last 100 matching entries. Filter by minimum level, time or text.",
        input: {
          taskId: fields.taskId,
          level: z
            .enum(LOG_LEVELS)
            .optional()
            .describe('Minimum level: "warn" returns warn and error.'),
          since: isoTime('at or after'),
          until: isoTime('at or before'),
          text: z
            .string()
            .min(1)
            .max(500)
            .optional()
            .describe('Case-insensitive text to find in the message or its data.'),
          tail: z
            .number()
            .int()
            .min(1)
            .max(100_000)
            .optional()
            .describe('Return the last N matching entries.'),
          ...page(100_000, 1000),
          includeRewound,
        },
        output: {
          entries: z.array(
            z.looseObject({ ts: z.string(), level: z.string(), message: z.string() }),
          ),
          next: z.number(),
          corrupt: z.array(z.unknown()),
        },
        annotations: { readOnlyHint: true, idempotentHint: true },
        async handler(a) {
          const { taskId, ...query } = a;
          const q =
            query.tail === undefined && query.limit === undefined && query.offset === undefined
              ? { ...query, tail: 100 }
              : query;
          const r = await logs.read(taskId, q);
          const lines = r.entries.map((e) => `\n${e.ts} ${e.level.toUpperCase()} ${e.message}`);
          const corrupt = r.corrupt.length ? ` ${r.corrupt.length} corrupt line(s) reported.` : '';
          return {
            structured: { entries: r.entries, next: r.next, corrupt: r.corrupt },
            text: `${r.entries.length} log entr${r.entries.length === 1 ? 'y' : 'ies'}.${corrupt}${lines.join('')}`,
          };
        },
      }),
    ];
  }

  private decisionTools(): McpToolDefinition[] {
    const decisions = this.decisions;
    if (!decisions) return [];
    return [
      defineTool({
        name: 'record_decision',
        title: 'Record a decision',
        description:
          'Write down a decision you made on a task and why, so that you, other agents and people can follow the reasoning later.',
        input: {
          taskId: fields.taskId,
          agentId: fields.agentId,
          decision: z
            .string()
            .trim()
            .min(1, 'must not be empty; say what was decided')
            .max(HISTORY_LIMITS.decisionMaxChars)
            .describe('What was decided, e.g. "pin node to 20".'),
          reasoning: z
            .string()
            .max(HISTORY_LIMITS.reasoningMaxChars)
            .optional()
            .describe('Why, e.g. "the CI image only has node 20".'),
          metadata: z
            .record(z.string(), z.unknown())
            .optional()
            .describe('Optional JSON object, e.g. {"alternatives":["node 22"]}.'),
        },
        output: {
          decisionId: z.string(),
          taskId: z.string(),
          ts: z.string(),
          agentId: z.string(),
          decision: z.string(),
        },
        annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
        async handler(a) {
          const { id, ...d } = await decisions.record(a);
          return {
            structured: { decisionId: id, ...d },
            text: `Decision ${id} recorded on task ${d.taskId}.`,
          };
        },
      }),
      defineTool({
        name: 'list_decisions',
        title: 'List decisions',
        description: 'The decisions recorded on a task, oldest first, optionally by one agent.',
        input: {
          taskId: fields.taskId,
          agentId: z.string().min(1).optional().describe('Only decisions of this agent.'),
          since: isoTime('at or after'),
          until: isoTime('at or before'),
          includeRewound,
          ...page(HISTORY_LIMITS.listMax, HISTORY_LIMITS.listDefault),
          order: order('asc'),
        },
        output: {
          decisions: z.array(z.looseObject({ decisionId: z.string(), decision: z.string() })),
          total: z.number().int(),
          limit: z.number().int(),
          offset: z.number().int(),
        },
        annotations: { readOnlyHint: true, idempotentHint: true },
        async handler(a) {
          const p = await decisions.list(a);
          return {
            structured: {
              decisions: p.items.map(({ id, ...d }) => ({ decisionId: id, ...d })),
              total: p.total,
              limit: p.limit,
              offset: p.offset,
            },
            text: `${p.items.length} of ${p.total} decision(s).${p.items.map((d) => `\n- ${d.ts} ${d.agentId}: ${d.decision}`).join('')}`,
          };
        },
      }),
    ];
  }

  private executionTools(): McpToolDefinition[] {
    const executions = this.executions;
    if (!executions) return [];
    return [
      defineTool({
        name: 'list_executions',
        title: 'List command executions',
        description:
          'The journal of commands run in a task, newest first: command, agent, exit code, duration, timed out, output head/tail and byte counts.',
        input: {
          taskId: fields.taskId,
          agentId: z.string().min(1).optional().describe('Only commands run by this agent.'),
          failedOnly: z
            .boolean()
            .optional()
            .describe('Only failed runs (non-zero exit, killed, or timed out).'),
          since: isoTime('started at or after'),
          until: isoTime('started at or before'),
          includeRewound,
          ...page(EXECUTION_LIMITS.listMax, EXECUTION_LIMITS.listDefault),
          order: order('desc'),
        },
        output: {
          executions: z.array(z.looseObject({ executionId: z.string() })),
          total: z.number().int(),
          limit: z.number().int(),
          offset: z.number().int(),
        },
        annotations: { readOnlyHint: true, idempotentHint: true },
        async handler(a) {
          const p = await executions.list(a);
          const cmd = (c: string | string[]) => (Array.isArray(c) ? c.join(' ') : c);
          return {
            structured: {
              executions: p.items.map(({ id, ...e }) => ({ executionId: id, ...e })),
              total: p.total,
              limit: p.limit,
              offset: p.offset,
            },
            text: `${p.items.length} of ${p.total} execution(s).${p.items
              .map(
                (e) =>
                  `\n- ${e.id} exit ${e.exitCode ?? 'killed'}${e.timedOut ? ' (timed out)' : ''} ${e.durationMs}ms: ${cmd(e.command).slice(0, 120)}`,
              )
              .join('')}`,
          };
        },
      }),
    ];
  }
}
