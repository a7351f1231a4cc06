import { Inject, Injectable, Optional } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { OPENCODE_OPTIONS, type OpenCodeToolsOptions } from '../../../config/options';
import { z } from 'zod';
import { TASK_MODES, type Task } from '../../../domain/task';
import { LIMITS } from '../../../domain/task.schema';
import { TasksService } from '../../tasks/tasks.service';
import { SANDBOX_EVENTS, type SandboxPullEvent } from '../../docker/sandbox.events';
import {
  defineTool,
  type McpToolDefinition,
  type McpToolProvider,
  type ToolContext,
} from '../mcp-tool';
import { formatBytes } from '../output-budget';
import { fields, sandboxInput, taskLine, taskShape, taskView } from '../tool-schemas';

const taskResult = (task: Task, lead?: string) => ({
  structured: taskView(task),
  text: lead ? `${lead} ${taskLine(task)}` : taskLine(task),
});

const PULL_PROGRESS_EVERY_MS = 250;

/** Tools that create tasks and move them through their lifecycle. */
@Injectable()
export class TaskLifecycleTools implements McpToolProvider {
  constructor(
    private readonly tasks: TasksService,
    @Inject(OPENCODE_OPTIONS) private readonly options: OpenCodeToolsOptions,
    @Optional() private readonly events?: EventEmitter2,
  ) {}

  /**
   * Relays image-pull progress of `image` as MCP progress while `work` runs (a first pull can take
   * minutes; progress tells the client the call is alive). Throttled; status changes always pass.
   */
  private async withPullProgress<T>(image: string, ctx: ToolContext, work: () => Promise<T>) {
    const events = this.events;
    if (!events) return work();
    let step = 0;
    let last = 0;
    let lastStatus = '';
    const onPull = (e: SandboxPullEvent) => {
      if (e.image !== image && !e.image.endsWith(`/${image}`)) return;
      const now = Date.now();
      if (e.status === lastStatus && now - last < PULL_PROGRESS_EVERY_MS) return;
      last = now;
      lastStatus = e.status;
      const bytes =
        e.current !== undefined && e.total
          ? ` ${formatBytes(e.current)} of ${formatBytes(e.total)}`
          : '';
      void ctx.progress(++step, undefined, `pulling ${e.image}: ${e.status}${bytes}`);
    };
    events.on(SANDBOX_EVENTS.pullProgress, onPull);
    try {
      return await work();
    } finally {
      events.off(SANDBOX_EVENTS.pullProgress, onPull);
    }
  }

  tools(): McpToolDefinition[] {
    const tasks = this.tasks;
    const withPullProgress = this.withPullProgress.bind(this);
    const defaultImage = this.options.sandboxImage;
    return [
      defineTool({
        name: 'create_task_sandbox',
        title: 'Create a task with its sandbox',
        description:
          'Create a new task (status "pending") and its isolated sandbox (the image is pulled if missing; progress is reported). Returns the taskId every other tool needs. Call resume_task to start it.',
        input: {
          name: z
            .string()
            .trim()
            .min(1, 'must not be empty')
            .max(LIMITS.nameMax)
            .describe('Short name of the work, e.g. "fix flaky login test".'),
          description: z
            .string()
            .max(LIMITS.descriptionMax)
            .optional()
            .describe('Longer free-text description of the goal.'),
          owner: z
            .string()
            .trim()
            .min(1)
            .max(LIMITS.ownerMax)
            .optional()
            .describe('Who owns the task (a person or agent name). Default "anonymous".'),
          mode: z
            .enum(TASK_MODES)
            .optional()
            .describe(
              '"exclusive" (default): one agent at a time; "collaborative": several agents may attach.',
            ),
          metadata: z
            .record(z.string(), z.unknown())
            .optional()
            .describe('Free JSON object stored with the task, e.g. {"repo":"api","issue":42}.'),
          ...sandboxInput,
        },
        output: taskShape,
        annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
        async handler(a, ctx) {
          const sandbox = Object.fromEntries(
            Object.entries({
              image: a.image,
              limits: a.limits,
              network: a.network,
              env: a.env,
              workdir: a.workdir,
            }).filter(([, v]) => v !== undefined),
          );
          const task = await withPullProgress(a.image ?? defaultImage, ctx, () =>
            tasks.create({
              name: a.name,
              description: a.description,
              owner: a.owner,
              mode: a.mode,
              metadata: a.metadata,
              sandbox,
            }),
          );
          return taskResult(task, 'Created.');
        },
      }),
      defineTool({
        name: 'resume_task',
        title: 'Start or resume a task',
        description: 'Move a pending (or restored) task to "running". Fails if it is not pending.',
        input: {
          taskId: fields.taskId,
          agentId: fields.actingAgentId,
          expectedVersion: fields.expectedVersion,
        },
        output: taskShape,
        annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
        async handler(a) {
          return taskResult(
            await tasks.start(a.taskId, { expectedVersion: a.expectedVersion, agentId: a.agentId }),
            'Started.',
          );
        },
      }),
      defineTool({
        name: 'complete_task',
        title: 'Complete a running task',
        description:
          'Mark a running task "completed", recording its result. Final: a completed task cannot be restarted.',
        input: {
          taskId: fields.taskId,
          agentId: fields.actingAgentId,
          result: z
            .unknown()
            .optional()
            .describe('Any JSON value describing the outcome (at most 256 KiB), e.g. {"pr":42}.'),
          message: z
            .string()
            .max(LIMITS.errorMax)
            .optional()
            .describe('One-sentence summary of what was done; stored in the result.'),
          expectedVersion: fields.expectedVersion,
        },
        output: taskShape,
        annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
        async handler(a) {
          return taskResult(
            await tasks.complete(
              a.taskId,
              { result: a.result, message: a.message },
              { expectedVersion: a.expectedVersion, agentId: a.agentId },
            ),
            'Completed.',
          );
        },
      }),
      defineTool({
        name: 'fail_task',
        title: 'Fail a running task',
        description: 'Mark a running task "failed" with the reason. Final.',
        input: {
          taskId: fields.taskId,
          agentId: fields.actingAgentId,
          error: z
            .string()
            .trim()
            .min(1, 'must not be empty; say why the task failed')
            .max(LIMITS.errorMax)
            .describe('Why the task failed, e.g. "tests still red after 3 attempts".'),
          expectedVersion: fields.expectedVersion,
        },
        output: taskShape,
        annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
        async handler(a) {
          return taskResult(
            await tasks.fail(
              a.taskId,
              { error: a.error },
              { expectedVersion: a.expectedVersion, agentId: a.agentId },
            ),
            'Failed.',
          );
        },
      }),
      defineTool({
        name: 'cancel_task',
        title: 'Cancel a task',
        description: 'Cancel a pending or running task, stopping its work. Final.',
        input: {
          taskId: fields.taskId,
          agentId: fields.actingAgentId,
          reason: z
            .string()
            .max(LIMITS.errorMax)
            .optional()
            .describe('Why it is cancelled, e.g. "superseded by tsk_…".'),
          expectedVersion: fields.expectedVersion,
        },
        output: taskShape,
        annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
        async handler(a) {
          return taskResult(
            await tasks.cancel(
              a.taskId,
              { reason: a.reason },
              { expectedVersion: a.expectedVersion, agentId: a.agentId },
            ),
            'Cancelled.',
          );
        },
      }),
      defineTool({
        name: 'delete_task',
        title: 'Delete a task',
        description:
          'Delete a finished (completed, failed or cancelled) task and its records. With force=true, delete a task in any state, tearing its sandbox down first. Irreversible.',
        input: {
          taskId: fields.taskId,
          force: z
            .boolean()
            .optional()
            .describe('Delete even if pending or running (destroys its sandbox). Default false.'),
          expectedVersion: fields.expectedVersion,
        },
        output: { taskId: z.string(), deleted: z.literal(true), status: z.string() },
        annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
        async handler(a) {
          const task = await tasks.delete(
            a.taskId,
            { force: a.force },
            { expectedVersion: a.expectedVersion },
          );
          return {
            structured: { taskId: task.id, deleted: true, status: task.status },
            text: `Deleted task ${task.id} "${task.name}" (was ${task.status}).`,
          };
        },
      }),
    ];
  }
}
