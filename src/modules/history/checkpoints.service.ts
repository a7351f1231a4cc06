import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { z } from 'zod';
import { DomainError } from '../../domain/errors';
import {
  checkpointInputSchema,
  decisionQuerySchema,
  type Checkpoint,
  type CheckpointInput,
} from '../../domain/history';
import { newId } from '../../domain/ids';
import { isTerminal, type Task } from '../../domain/task';
import { LIMITS } from '../../domain/task.schema';
import { parseOrThrow } from '../../domain/validation';
import { CHECKPOINT_STORE, type CheckpointStore } from '../../ports/checkpoint-store.port';
import { CLOCK, type Clock } from '../../ports/clock.port';
import { DECISION_STORE, type DecisionStore } from '../../ports/decision-store.port';
import { EXECUTION_STORE, type ExecutionStore } from '../../ports/execution-store.port';
import { LOG_STORE, type LogStore } from '../../ports/log-store.port';
import {
  SANDBOX_SNAPSHOTTER,
  type SandboxSnapshotter,
  type SnapshotProgress,
} from '../../ports/sandbox-snapshotter.port';
import { TASK_SANDBOX, type TaskSandboxLifecycle } from '../../ports/task-sandbox.port';
import { STATE_STORE, type StateStore } from '../../ports/state-store.port';
import { AgentAttachmentService } from '../locks/agent-attachment.service';
import { TasksService } from '../tasks/tasks.service';
import { TaskLogService } from './task-log.service';
import { TaskLookup } from './task-lookup';

const ID = (what: string) =>
  z.string({ error: 'is required' }).trim().min(1, `is required; pass the ${what} id`);

export interface RestoreResult {
  checkpoint: Checkpoint;
  task: Task;
  rewound: { logFrom: number; logTo: number; decisions: number; executions: number };
}

const noProgress: SnapshotProgress = () => undefined;

/**
 * Checkpoints of a task's memory (state, log position, decisions, executions) and, when a
 * `SandboxSnapshotter` is provided, its sandbox filesystem.
 *
 * - create: two-phase through the CheckpointStore, so a crash leaves nothing visible;
 * - restore: state back to the checkpoint's (as a new version), later log entries, decisions and
 *   executions marked rewound (kept, not duplicated), sandbox re-created from the snapshot; a task in
 *   a terminal state goes back to `pending` so it can be resumed;
 * - fork: a new pending task with the checkpoint's state, log prefix, decisions and sandbox.
 *
 * @example
 * const cp = await checkpoints.create({ taskId, description: 'before the refactor' });
 * await checkpoints.restore(taskId, cp.id);
 * const child = await checkpoints.fork(taskId, cp.id, 'try the other approach');
 */
@Injectable()
export class CheckpointsService {
  private readonly logger = new Logger('Checkpoints');

  constructor(
    @Inject(CHECKPOINT_STORE) private readonly store: CheckpointStore,
    @Inject(STATE_STORE) private readonly state: StateStore,
    @Inject(LOG_STORE) private readonly logs: LogStore,
    @Inject(DECISION_STORE) private readonly decisions: DecisionStore,
    @Inject(EXECUTION_STORE) private readonly executions: ExecutionStore,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly lookup: TaskLookup,
    private readonly log: TaskLogService,
    private readonly tasks: TasksService,
    @Optional()
    @Inject(SANDBOX_SNAPSHOTTER)
    private readonly snapshotter?: SandboxSnapshotter,
    @Optional() private readonly attachments?: AgentAttachmentService,
    @Optional() @Inject(TASK_SANDBOX) private readonly sandbox?: TaskSandboxLifecycle,
  ) {}

  /** An agent acting on a task must hold a live attachment (ARCHITECTURE §2); refused = nothing written. */
  private async checkAgent(taskId: string, agentId?: string): Promise<void> {
    if (agentId && this.attachments) await this.attachments.assertAttached(taskId, agentId);
  }

  private now(): string {
    return this.clock.now().toISOString();
  }

  async create(input: CheckpointInput, progress = noProgress): Promise<Checkpoint> {
    const data = parseOrThrow(checkpointInputSchema, input);
    const task = await this.lookup.get(data.taskId);
    await this.checkAgent(task.id, data.agentId);
    if (task.sandbox && this.snapshotter) await this.sandbox?.assertLocal?.(task.id);
    const id = newId('chk');
    progress(`checkpoint ${id}: reserving`);
    const pending = await this.store.begin({ id, taskId: task.id });
    let snapshot: Record<string, unknown> | undefined;
    try {
      this.log.append(task.id, 'info', `checkpoint ${id}: ${data.description}`, {
        checkpointId: id,
        agentId: data.agentId,
      });
      progress(`checkpoint ${id}: capturing state, log position, decisions`);
      const [state, logPosition, decisionMark, executionMark] = await Promise.all([
        this.state.get(task.id),
        this.logs.end(task.id),
        this.decisions.mark(task.id),
        this.executions.mark(task.id),
      ]);
      if (this.snapshotter) {
        progress(`checkpoint ${id}: snapshotting the sandbox`);
        snapshot = await this.snapshotter.snapshot(task, id, pending.artifactsDir, progress);
      }
      const { version: _v, ...taskFields } = task;
      const cp: Checkpoint = {
        id,
        taskId: task.id,
        description: data.description,
        createdAt: this.now(),
        state,
        logPosition,
        decisionMark,
        executionMark,
        task: taskFields as Record<string, unknown>,
      };
      if (data.agentId) cp.agentId = data.agentId;
      if (snapshot) cp.snapshot = snapshot;
      progress(`checkpoint ${id}: committing`);
      const saved = await this.store.commit(cp);
      progress(`checkpoint ${id}: done`);
      return saved;
    } catch (err) {
      await this.store.abort(id).catch(() => undefined);
      if (snapshot) await this.snapshotter?.remove(snapshot).catch(() => undefined);
      throw err;
    }
  }

  /** The checkpoint, checked to belong to `taskId`. */
  async get(taskId: string, checkpointId: string): Promise<Checkpoint> {
    const tid = parseOrThrow(ID('task'), taskId, 'taskId');
    const cid = parseOrThrow(ID('checkpoint'), checkpointId, 'checkpointId');
    const cp = await this.store.get(cid);
    if (!cp || cp.taskId !== tid) {
      throw new DomainError(
        'NOT_FOUND',
        `checkpoint '${cid}' not found for task ${tid} (list them with restore-checkpoint --list --task ${tid})`,
        { kind: 'checkpoint', id: cid, taskId: tid },
      );
    }
    return cp;
  }

  async list(taskId: string): Promise<Checkpoint[]> {
    const task = await this.lookup.get(taskId);
    return this.store.list(task.id);
  }

  async restore(
    taskId: string,
    checkpointId: string,
    progress = noProgress,
    opts: { agentId?: string } = {},
  ): Promise<RestoreResult> {
    const task = await this.lookup.get(taskId);
    const cp = await this.get(task.id, checkpointId);
    await this.checkAgent(task.id, opts.agentId);
    if (cp.snapshot) {
      await this.sandbox?.assertLocal?.(task.id);
      if (!this.snapshotter) {
        throw new DomainError(
          'SANDBOX_UNAVAILABLE',
          `checkpoint ${cp.id} holds a sandbox snapshot, but no sandbox engine is available to restore it`,
          { checkpointId: cp.id },
        );
      }
      progress(`restore ${cp.id}: re-creating the sandbox from its snapshot`);
      await this.snapshotter.restore(task, cp.snapshot, this.store.artifactsDir(cp), progress);
    }
    progress(`restore ${cp.id}: state`);
    const current = await this.state.get(task.id);
    if (cp.state) await this.state.put(task.id, cp.state.data, current?.version ?? 0, this.now());
    else if (current) await this.state.delete(task.id);
    progress(`restore ${cp.id}: marking later history rewound`);
    const logTo = await this.logs.end(task.id);
    await this.logs.markRewound(task.id, cp.logPosition, logTo, cp.id);
    const decisions = await this.decisions.markRewound(task.id, cp.decisionMark, cp.id);
    const executions = await this.executions.markRewound(task.id, cp.executionMark, cp.id);
    let restored = task;
    if (isTerminal(task.status)) {
      restored = await this.lookup.repo.update(
        task.id,
        task.version,
        { status: 'pending', endedAt: undefined, result: undefined, error: undefined },
        this.now(),
      );
    }
    const rewound = { logFrom: cp.logPosition, logTo, decisions, executions };
    this.log.append(task.id, 'info', `restored to checkpoint ${cp.id}: ${cp.description}`, {
      checkpointId: cp.id,
      rewound,
      status: { from: task.status, to: restored.status },
    });
    await this.logs.flush(task.id);
    progress(`restore ${cp.id}: done`);
    return { checkpoint: cp, task: restored, rewound };
  }

  /** Creates a new, independent pending task from a checkpoint. */
  async fork(
    taskId: string,
    checkpointId: string,
    name?: string,
    progress = noProgress,
  ): Promise<Task> {
    const parent = await this.lookup.get(taskId);
    const cp = await this.get(parent.id, checkpointId);
    const meta = (cp.task.metadata as Record<string, unknown> | undefined) ?? parent.metadata;
    progress(`fork ${cp.id}: creating the task`);
    const child = await this.tasks.create({
      name: name ?? `${parent.name} (fork)`.slice(0, LIMITS.nameMax),
      owner: parent.owner,
      mode: parent.mode,
      description: parent.description,
      metadata: { ...meta, forkedFrom: { taskId: parent.id, checkpointId: cp.id } },
      sandbox: parent.sandbox,
    });
    try {
      if (cp.state) await this.state.put(child.id, cp.state.data, 0, this.now());
      progress(`fork ${cp.id}: copying the log`);
      await this.logs.copyPrefix(parent.id, child.id, cp.logPosition);
      progress(`fork ${cp.id}: copying decisions`);
      await this.copyDecisions(parent.id, child.id, cp.decisionMark);
      if (cp.snapshot) {
        if (!this.snapshotter) {
          throw new DomainError(
            'SANDBOX_UNAVAILABLE',
            `checkpoint ${cp.id} holds a sandbox snapshot, but no sandbox engine is available to fork it`,
          );
        }
        progress(`fork ${cp.id}: creating the sandbox from the snapshot`);
        await this.snapshotter.fork(child, cp.snapshot, this.store.artifactsDir(cp), progress);
      }
      this.log.append(child.id, 'info', `forked from task ${parent.id} at checkpoint ${cp.id}`, {
        parentTaskId: parent.id,
        checkpointId: cp.id,
      });
      await this.logs.flush(child.id);
    } catch (err) {
      await this.tasks.delete(child.id, { force: true }).catch(() => undefined);
      throw err;
    }
    progress(`fork ${cp.id}: done`);
    return child;
  }

  /** Decisions up to the mark that are still live (rewound ones stay behind). */
  private async copyDecisions(from: string, to: string, mark: number): Promise<void> {
    for (let offset = 0; ; offset += 1000) {
      const page = await this.decisions.list(
        decisionQuerySchema.parse({ taskId: from, includeRewound: false, limit: 1000, offset }),
      );
      for (const d of page.items) {
        if (d.seq! > mark) return;
        const { seq: _s, rewoundBy: _r, ...rest } = d;
        await this.decisions.append({ ...rest, id: newId('dec'), taskId: to });
      }
      if (page.items.length < 1000) return;
    }
  }

  async delete(taskId: string, checkpointId: string): Promise<Checkpoint> {
    const cp = await this.get(taskId, checkpointId);
    const gone = await this.store.delete(cp.id);
    if (gone.snapshot) await this.releaseSnapshot(gone);
    return gone;
  }

  /** Everything a task kept: called after the task is deleted. */
  async purgeTask(taskId: string): Promise<void> {
    for (const cp of await this.store.deleteForTask(taskId)) {
      if (cp.snapshot) await this.releaseSnapshot(cp);
    }
    await this.state.delete(taskId);
    await this.logs.deleteTask(taskId);
    await this.decisions.deleteForTask(taskId);
    await this.executions.deleteForTask(taskId);
  }

  private async releaseSnapshot(cp: Checkpoint): Promise<void> {
    try {
      await this.snapshotter?.remove(cp.snapshot!);
    } catch (err) {
      this.logger.warn(
        `could not remove the snapshot of checkpoint ${cp.id}: ${(err as Error).message}`,
      );
    }
  }

  /** Removes leftovers of checkpoint creations interrupted by a crash. */
  async sweep(): Promise<string[]> {
    const removed = await this.store.sweep();
    if (removed.length) {
      this.logger.warn(
        `removed ${removed.length} unfinished checkpoint(s) left by a crash: ${removed.join(', ')}`,
      );
    }
    return removed;
  }
}
