import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { OPENCODE_OPTIONS, type OpenCodeToolsOptions } from '../../config/options';
import type { LogLevel } from '../../domain/history';
import { HooksService } from '../hooks/hooks.service';
import { ValidationError } from '../../domain/errors';
import {
  TASK_HOOK_EVENTS,
  type AfterHookEvent,
  type HookContext,
  type TaskHookEvent,
} from '../hooks/hook.types';
import { CheckpointsService } from './checkpoints.service';
import { TaskLogService } from './task-log.service';

const LIFECYCLE_LINES: [AfterHookEvent, LogLevel, string][] = [
  ['afterTaskCreate', 'info', 'task created'],
  ['afterTaskStart', 'info', 'task started'],
  ['afterTaskComplete', 'info', 'task completed'],
  ['afterTaskFail', 'error', 'task failed'],
  ['afterTaskCancel', 'warn', 'task cancelled'],
];

/** Transition inputs larger than this (bytes of JSON) are not copied into the log line. */
export const INPUT_LOG_MAX_BYTES = 8 * 1024;

/** Runs before user hooks of the same event (lower runs first), so logs show the change first. */
export const HISTORY_HOOK_PRIORITY = 10;

/**
 * Wires task memory into the lifecycle through after-hooks (never by editing TasksService): one log
 * line per transition; everything a task kept removed after it is deleted; unfinished checkpoints
 * swept at start-up; optional automatic checkpoints before chosen events.
 */
@Injectable()
export class HistoryHooks implements OnModuleInit {
  private readonly logger = new Logger('History');

  constructor(
    private readonly hooks: HooksService,
    private readonly log: TaskLogService,
    private readonly checkpoints: CheckpointsService,
    @Inject(OPENCODE_OPTIONS) private readonly options: OpenCodeToolsOptions,
  ) {}

  async onModuleInit(): Promise<void> {
    for (const [event, level, message] of LIFECYCLE_LINES) {
      this.hooks.register(event, (ctx) => this.logTransition(ctx, level, message), {
        name: `history:${event}`,
        priority: HISTORY_HOOK_PRIORITY,
      });
    }
    this.hooks.register('afterTaskDelete', (ctx) => this.checkpoints.purgeTask(ctx.task.id), {
      name: 'history:purge',
      priority: HISTORY_HOOK_PRIORITY,
    });
    for (const event of this.options.persistence.autoCheckpoint ?? []) {
      if (!TASK_HOOK_EVENTS.includes(event as TaskHookEvent)) {
        throw new ValidationError(
          'OPENCODE_AUTO_CHECKPOINT',
          `'${event}' is not a hook event; use one of: ${TASK_HOOK_EVENTS.join(', ')}`,
        );
      }
      this.hooks.register(event as TaskHookEvent, (ctx) => this.autoCheckpoint(ctx), {
        name: `history:auto-checkpoint:${event}`,
        priority: HISTORY_HOOK_PRIORITY,
      });
    }
    try {
      await this.checkpoints.sweep();
    } catch (err) {
      this.logger.warn(`checkpoint sweep failed: ${(err as Error).message}`);
    }
  }

  private logTransition(ctx: HookContext, level: LogLevel, message: string): void {
    const { task, transition, input } = ctx;
    const data: Record<string, unknown> = { version: task.version };
    if (transition) data.transition = transition;
    if (input && Object.values(input).some((v) => v !== undefined)) {
      // Large results or metadata stay in the task record; the log keeps a line, not a copy.
      const bytes = Buffer.byteLength(JSON.stringify(input));
      data.input = bytes <= INPUT_LOG_MAX_BYTES ? input : { omitted: true, bytes };
    }
    this.log.append(task.id, level, message, data);
  }

  /** Never vetoes: a failed automatic checkpoint is logged and the transition goes ahead. */
  private async autoCheckpoint(ctx: HookContext): Promise<void> {
    try {
      await this.checkpoints.create({
        taskId: ctx.task.id,
        description: `automatic, ${ctx.event}`,
      });
    } catch (err) {
      this.logger.warn(
        `automatic checkpoint of task ${ctx.task.id} on ${ctx.event} failed: ${(err as Error).message}`,
      );
    }
  }
}
