import { Injectable, Optional } from '@nestjs/common';
import { Command, Help, Option } from 'nest-commander';
import type { Task } from '../../../domain/task';
import { SandboxService, type SandboxStatus } from '../../docker/sandbox.service';
import { TasksService } from '../../tasks/tasks.service';
import { BaseCommand, parse, taskIdFrom, type BaseOptions } from '../base.command';
import { emit } from '../output';
import { formatTask } from '../task-format';
import { formatSandboxStatus } from './sandbox-status.command';

interface TaskOpts extends BaseOptions {
  task?: string;
  expectedVersion?: number;
  agent?: string;
}

/** Shared `--task` / `--expected-version` options for commands acting on one task. */
@Injectable()
abstract class TaskCommand<O extends TaskOpts> extends BaseCommand<O> {
  constructor(protected readonly tasks: TasksService) {
    super();
  }

  protected show(o: O, task: Task): void {
    emit(!!o.json, task, () => formatTask(task));
  }

  @Option({ flags: '--task <id>', description: 'task id (or give it as the argument)' })
  parseTask(v: string) {
    return v;
  }
  @Option({
    flags: '--expected-version <n>',
    description: 'refuse (exit 4) unless the task is still at this version',
  })
  parseExpectedVersion(v: string) {
    return parse.int('--expected-version', v, 1);
  }
}

/** Adds `--agent`: the change is refused (exit 4) unless that agent holds a live attachment. */
@Injectable()
abstract class AgentTaskCommand<O extends TaskOpts> extends TaskCommand<O> {
  protected opts(o: O) {
    return { expectedVersion: o.expectedVersion, agentId: o.agent };
  }
  @Option({
    flags: '--agent <id>',
    description: 'act for this agent: refused (exit 4) unless it is attached (see attach-agent)',
  })
  parseAgent(v: string) {
    return v;
  }
}

@Command({
  name: 'resume-task',
  arguments: '[task]',
  description: 'move a pending task to running',
})
export class ResumeTaskCommand extends AgentTaskCommand<TaskOpts> {
  protected async execute(params: string[], o: TaskOpts) {
    this.show(o, await this.tasks.start(taskIdFrom(params, o), this.opts(o)));
  }
  @Help('after')
  examples() {
    return '\nExample:\n  opencode-tools resume-task --task tsk_01j… --json';
  }
}

interface CompleteOpts extends TaskOpts {
  result?: unknown;
  message?: string;
}

@Command({
  name: 'complete-task',
  arguments: '[task]',
  description: 'mark a running task completed',
})
export class CompleteTaskCommand extends AgentTaskCommand<CompleteOpts> {
  protected async execute(params: string[], o: CompleteOpts) {
    const id = taskIdFrom(params, o);
    this.show(
      o,
      await this.tasks.complete(id, { result: o.result, message: o.message }, this.opts(o)),
    );
  }
  @Option({ flags: '--result <json>', description: 'result as JSON (at most 256 KiB)' })
  parseResult(v: string) {
    return parse.json('--result', v);
  }
  @Option({ flags: '--message <text>', description: 'a short summary, stored in the result' })
  parseMessage(v: string) {
    return v;
  }
  @Help('after')
  examples() {
    return `\nExample:\n  opencode-tools complete-task --task tsk_01j… --result '{"pr":42}' --message "merged"`;
  }
}

interface FailOpts extends TaskOpts {
  error?: string;
}

@Command({ name: 'fail-task', arguments: '[task]', description: 'mark a running task failed' })
export class FailTaskCommand extends AgentTaskCommand<FailOpts> {
  protected async execute(params: string[], o: FailOpts) {
    this.show(
      o,
      await this.tasks.fail(taskIdFrom(params, o), { error: o.error as string }, this.opts(o)),
    );
  }
  @Option({ flags: '--error <message>', description: 'why it failed (required)' })
  parseError(v: string) {
    return v;
  }
  @Help('after')
  examples() {
    return `\nExample:\n  opencode-tools fail-task --task tsk_01j… --error "tests still red after 3 attempts"`;
  }
}

interface CancelOpts extends TaskOpts {
  reason?: string;
}

@Command({
  name: 'cancel-task',
  arguments: '[task]',
  description: 'cancel a pending or running task',
})
export class CancelTaskCommand extends AgentTaskCommand<CancelOpts> {
  protected async execute(params: string[], o: CancelOpts) {
    this.show(
      o,
      await this.tasks.cancel(taskIdFrom(params, o), { reason: o.reason }, this.opts(o)),
    );
  }
  @Option({ flags: '--reason <text>', description: 'why (stored as the task error)' })
  parseReason(v: string) {
    return v;
  }
  @Help('after')
  examples() {
    return `\nExample:\n  opencode-tools cancel-task tsk_01j… --reason "superseded"`;
  }
}

@Command({ name: 'task-status', arguments: '[task]', description: 'show one task' })
export class TaskStatusCommand extends TaskCommand<TaskOpts> {
  constructor(
    tasks: TasksService,
    @Optional() private readonly sandboxes?: SandboxService,
  ) {
    super(tasks);
  }

  protected async execute(params: string[], o: TaskOpts) {
    const task = await this.tasks.get(taskIdFrom(params, o));
    if (!task.sandbox || !this.sandboxes) return this.show(o, task);
    // A task with a sandbox also shows its container and a resource sample; an unreachable
    // engine is reported in place (the task record itself is still shown).
    const sandboxStatus: SandboxStatus | { error: string } = await this.sandboxes
      .status(task.id, { stats: true })
      .catch((err: Error) => ({ error: err.message }));
    emit(!!o.json, { ...task, sandboxStatus }, () =>
      [
        formatTask(task),
        'error' in sandboxStatus
          ? `sandbox     ${sandboxStatus.error}`
          : formatSandboxStatus(sandboxStatus),
      ].join('\n'),
    );
  }
  @Help('after')
  examples() {
    return '\nExample:\n  opencode-tools task-status --task tsk_01j… --json';
  }
}
