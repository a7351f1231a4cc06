import { Inject, Injectable, Optional } from '@nestjs/common';
import { ValidationError, NotFoundError, DomainError } from '../../domain/errors';
import { newId } from '../../domain/ids';
import {
  assertTransition,
  isTerminal,
  TERMINAL_STATUSES,
  type Task,
  type TaskPatch,
  type TaskStatus,
} from '../../domain/task';
import { versionConflict } from '../../domain/task-query';
import {
  createTaskSchema,
  findTasksSchema,
  LIMITS,
  listTasksSchema,
  metadataSchema,
  type CreateTaskInput,
  type FindTasksFilter,
  type ListTasksInput,
} from '../../domain/task.schema';
import { parseOrThrow } from '../../domain/validation';
import { z } from 'zod';
import { CLOCK, type Clock } from '../../ports/clock.port';
import {
  TASK_REPOSITORY,
  type TaskPage,
  type TaskRepository,
  type TaskStats,
} from '../../ports/task-repository.port';
import { TASK_SANDBOX, type TaskSandboxLifecycle } from '../../ports/task-sandbox.port';
import { HooksService } from '../hooks/hooks.service';
import type { AfterHookEvent, BeforeHookEvent } from '../hooks/hook.types';
import { AgentAttachmentService } from '../locks/agent-attachment.service';

export interface TransitionOptions {
  /** Refuse with CONFLICT unless the task is still at this version. */
  expectedVersion?: number;
  /**
   * Act for this agent: refused (NOT_ATTACHED, LEASE_EXPIRED, LOCK_HELD), with nothing changed,
   * unless it holds a live attachment to the task; a successful check renews the lease.
   */
  agentId?: string;
}

const TASK_ID = z
  .string({ error: 'is required' })
  .trim()
  .min(1, 'is required; pass the task id (see list-tasks)');
const detailsSchema = z
  .object({
    name: z.string().trim().min(1, 'must not be empty').max(LIMITS.nameMax).optional(),
    description: z.string().max(LIMITS.descriptionMax).optional(),
    metadata: metadataSchema.optional(),
  })
  .strict();

function checkJsonSize(field: string, value: unknown, max: number): void {
  const text = JSON.stringify(value);
  if (text !== undefined && Buffer.byteLength(text) > max) {
    throw new ValidationError(field, `must serialise to at most ${max} bytes of JSON`);
  }
}

/**
 * Task lifecycle: every status change goes through the transition table, runs its before-hooks
 * (which may veto), commits with an optimistic version check, then runs its after-hooks.
 * @example
 * const task = await tasks.create({ name: 'fix flaky test', owner: 'claude' });
 * await tasks.start(task.id);
 * await tasks.complete(task.id, { result: { pr: 42 } });
 */
@Injectable()
export class TasksService {
  constructor(
    @Inject(TASK_REPOSITORY) private readonly repo: TaskRepository,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly hooks: HooksService,
    private readonly attachments: AgentAttachmentService,
    /** Sandbox seam (Docker module); absent = tasks get no sandboxes. */
    @Optional() @Inject(TASK_SANDBOX) private readonly sandbox?: TaskSandboxLifecycle,
  ) {}

  private now(): string {
    return this.clock.now().toISOString();
  }

  async create(input: CreateTaskInput): Promise<Task> {
    const data = parseOrThrow(createTaskSchema, input);
    const now = this.now();
    const task: Task = {
      id: newId('tsk'),
      name: data.name,
      owner: data.owner,
      mode: data.mode,
      status: 'pending',
      metadata: data.metadata,
      version: 1,
      createdAt: now,
      updatedAt: now,
    };
    if (data.description !== undefined) task.description = data.description;
    if (data.sandbox !== undefined) task.sandbox = data.sandbox;
    const warm = task.sandbox && (await this.sandbox?.claimWarm?.(task));
    if (warm) task.id = warm;
    try {
      await this.hooks.runBefore('beforeTaskCreate', {
        task,
        transition: { from: null, to: 'pending' },
        input: { ...data },
      });
    } catch (err) {
      if (warm) await this.sandbox!.release(task.id);
      throw err;
    }
    // The sandbox comes up before the record is stored: a bad spec or image creates nothing.
    if (task.sandbox && this.sandbox) await this.sandbox.provision(task);
    try {
      await this.repo.insert(task);
    } catch (err) {
      if (task.sandbox && this.sandbox) await this.sandbox.release(task.id);
      throw err;
    }
    await this.hooks.runAfter('afterTaskCreate', {
      task,
      transition: { from: null, to: 'pending' },
      input: { ...data },
    });
    return task;
  }

  async get(id: string): Promise<Task> {
    const taskId = parseOrThrow(TASK_ID, id, 'taskId');
    const task = await this.repo.findById(taskId);
    if (!task) throw new NotFoundError('task', taskId);
    return task;
  }

  /** Moves a pending task to running (`resume-task`). */
  async start(id: string, opts: TransitionOptions = {}): Promise<Task> {
    return this.transition(id, 'running', ['beforeTaskStart', 'afterTaskStart'], {}, opts, (t) => ({
      startedAt: t.startedAt ?? this.now(),
    }));
  }

  async complete(
    id: string,
    input: { result?: unknown; message?: string } = {},
    opts: TransitionOptions = {},
  ): Promise<Task> {
    let result = input.result;
    if (input.message !== undefined) {
      result =
        result === undefined
          ? { message: input.message }
          : result !== null && typeof result === 'object' && !Array.isArray(result)
            ? { message: input.message, ...result }
            : { message: input.message, value: result };
    }
    if (result !== undefined) checkJsonSize('result', result, LIMITS.resultMaxBytes);
    const patch: TaskPatch = { endedAt: this.now() };
    if (result !== undefined) patch.result = result;
    return this.transition(
      id,
      'completed',
      ['beforeTaskComplete', 'afterTaskComplete'],
      { ...input },
      opts,
      () => patch,
    );
  }

  async fail(id: string, input: { error: string }, opts: TransitionOptions = {}): Promise<Task> {
    const error = parseOrThrow(
      z
        .string({ error: 'is required; say why the task failed' })
        .trim()
        .min(1, 'must not be empty; say why the task failed')
        .max(LIMITS.errorMax),
      input?.error,
      'error',
    );
    return this.transition(
      id,
      'failed',
      ['beforeTaskFail', 'afterTaskFail'],
      { error },
      opts,
      () => ({
        endedAt: this.now(),
        error,
      }),
    );
  }

  async cancel(
    id: string,
    input: { reason?: string } = {},
    opts: TransitionOptions = {},
  ): Promise<Task> {
    const reason = input.reason?.trim();
    if (reason && reason.length > LIMITS.errorMax)
      throw new ValidationError('reason', `must be at most ${LIMITS.errorMax} characters`);
    return this.transition(
      id,
      'cancelled',
      ['beforeTaskCancel', 'afterTaskCancel'],
      { reason },
      opts,
      () => ({
        endedAt: this.now(),
        ...(reason ? { error: `cancelled: ${reason}` } : {}),
      }),
    );
  }

  /** Changes name, description or metadata; never touches status. */
  async updateDetails(
    id: string,
    input: { name?: string; description?: string; metadata?: Record<string, unknown> },
    opts: TransitionOptions = {},
  ): Promise<Task> {
    const data = parseOrThrow(detailsSchema, input);
    const task = await this.get(id);
    const expected = opts.expectedVersion ?? task.version;
    return this.repo.update(task.id, expected, data, this.now());
  }

  /**
   * Deletes a task in a terminal state. With `force`, a task in any state is deleted (the Docker
   * module's delete hook tears its sandbox down first).
   */
  async delete(
    id: string,
    input: { force?: boolean } = {},
    opts: TransitionOptions = {},
  ): Promise<Task> {
    const task = await this.get(id);
    this.checkVersion(task, opts);
    if (!isTerminal(task.status) && !input.force) {
      throw new DomainError(
        'ILLEGAL_TRANSITION',
        `task ${task.id} is ${task.status}; only ${TERMINAL_STATUSES.join(', ')} tasks can be deleted (cancel it first, or force the delete)`,
        { taskId: task.id, status: task.status, allowed: [...TERMINAL_STATUSES] },
      );
    }
    const ctx = {
      task,
      transition: { from: task.status, to: null },
      input: { force: !!input.force },
    };
    await this.hooks.runBefore('beforeTaskDelete', ctx);
    if (this.sandbox) await this.sandbox.teardown(task, { force: !!input.force });
    await this.repo.delete(task.id, task.version);
    await this.hooks.runAfter('afterTaskDelete', ctx);
    return task;
  }

  async list(input: ListTasksInput = {}): Promise<TaskPage> {
    return this.repo.list(parseOrThrow(listTasksSchema, input));
  }

  /**
   * Case-insensitive text search over name, description and metadata, narrowed by any of the
   * list filters (status, owner, mode, creation time) and ordered like a list.
   * @example tasks.find('flaky', { status: ['running'], owner: 'alice', limit: 20 })
   */
  async find(text: string, filter: FindTasksFilter = {}): Promise<TaskPage> {
    return this.repo.search(parseOrThrow(findTasksSchema, { ...filter, text }));
  }

  /** The ids among `ids` that still exist (one indexed lookup each; no task is loaded). */
  async existingIds(ids: string[]): Promise<string[]> {
    return this.repo.existingIds(ids);
  }

  async stats(filter: { owner?: string } = {}): Promise<TaskStats> {
    return this.repo.stats(filter);
  }

  private checkVersion(task: Task, opts: TransitionOptions): void {
    if (opts.expectedVersion !== undefined && opts.expectedVersion !== task.version) {
      throw versionConflict(task.id, opts.expectedVersion, task.version);
    }
  }

  private async transition(
    id: string,
    to: TaskStatus,
    [before, after]: [BeforeHookEvent, AfterHookEvent],
    input: Record<string, unknown>,
    opts: TransitionOptions,
    patchFor: (t: Task) => TaskPatch,
  ): Promise<Task> {
    const task = await this.get(id);
    this.checkVersion(task, opts);
    assertTransition(task, to);
    if (opts.agentId !== undefined) await this.attachments.assertAttached(task.id, opts.agentId);
    const transition = { from: task.status, to };
    await this.hooks.runBefore(before, { task, transition, input });
    const updated = await this.repo.update(
      task.id,
      task.version,
      { ...patchFor(task), status: to },
      this.now(),
    );
    await this.hooks.runAfter(after, { task: updated, transition, input });
    return updated;
  }
}
