import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { OPENCODE_OPTIONS, type OpenCodeToolsOptions } from '../../config/options';
import { isTerminal, type Task } from '../../domain/task';
import {
  SANDBOX_LABELS,
  SANDBOX_RUNTIME,
  type SandboxInfo,
  type SandboxResource,
  type SandboxRuntime,
} from '../../ports/sandbox-runtime.port';
import { TASK_REPOSITORY, type TaskRepository } from '../../ports/task-repository.port';
import {
  RUNTIME_RECORD_STORE,
  type RuntimeRecordStore,
} from '../../ports/runtime-record-store.port';
import { POOL_KIND } from './warm-pool.service';
import { TasksService } from '../tasks/tasks.service';
import { registryId } from './sandbox-policy';
import { SandboxPlacementService } from './sandbox-placement.service';
import { SandboxService } from './sandbox.service';
import { SandboxActivity } from './sandbox-activity.service';
import { SESSION_STATE_KIND, SessionStateService } from './session-state.service';
import { SANDBOX_EVENTS } from './sandbox.events';

export type ReconcileActionKind =
  | 'adopted'
  | 'started'
  | 'recreated'
  | 'failed-task'
  | 'stopped'
  | 'removed-orphan'
  | 'removed-pool-member';

export interface ReconcileAction {
  kind: ReconcileActionKind;
  taskId: string;
  detail: string;
}

export interface ReconcileReport {
  at: string;
  actions: ReconcileAction[];
  /** Tasks or resources the reconciler could not fix this time (it retries next run). */
  errors: { taskId: string; message: string }[];
}

const PAGE = 1000;

/**
 * Compares the registry with the engine by label and repairs the difference. Idempotent: a second
 * run right after the first finds nothing to do. The four cases:
 * 1. a live task whose container exists → adopted (and started if it is not running);
 * 2. a live task whose container vanished → the task is failed (cancelled if still pending) with
 *    the reason, or the sandbox is re-created (`OPENCODE_SANDBOX_ON_VANISHED=recreate`);
 * 3. labelled resources of a task that does not exist → removed (after the orphan grace period,
 *    so a sandbox being created right now is left alone);
 * 4. a task stuck mid-transition — finished, but its container still running because the stop
 *    after the status change never happened (crash, engine down) → the stop is finished.
 */
@Injectable()
export class ReconcilerService implements OnApplicationShutdown {
  private readonly logger = new Logger('Reconciler');
  private timer?: NodeJS.Timeout;
  private running?: Promise<ReconcileReport>;

  constructor(
    @Inject(SANDBOX_RUNTIME) private readonly runtime: SandboxRuntime,
    @Inject(TASK_REPOSITORY) private readonly repo: TaskRepository,
    @Inject(OPENCODE_OPTIONS) private readonly options: OpenCodeToolsOptions,
    private readonly tasks: TasksService,
    private readonly sandboxes: SandboxService,
    private readonly events: EventEmitter2,
    @Inject(RUNTIME_RECORD_STORE) private readonly records: RuntimeRecordStore,
    private readonly placement: SandboxPlacementService,
    private readonly activity: SandboxActivity,
    private readonly sessionStates: SessionStateService,
  ) {}

  /** One pass; concurrent callers share it. */
  reconcile(): Promise<ReconcileReport> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  /** For long-running processes: a pass now, then every `intervalMs` (0 = only now). */
  startTimer(intervalMs = this.options.sandbox.reconcileIntervalMs): void {
    const tick = () =>
      this.reconcile().catch((err: Error) => this.logger.warn(`reconcile failed: ${err.message}`));
    void tick();
    if (intervalMs > 0 && !this.timer) {
      this.timer = setInterval(tick, intervalMs);
      this.timer.unref();
    }
  }

  stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  onApplicationShutdown(): void {
    this.stopTimer();
  }

  private async pass(): Promise<ReconcileReport> {
    const report: ReconcileReport = { at: new Date().toISOString(), actions: [], errors: [] };
    // Each action is kept as a durable record too; the pass waits for those writes at its end.
    const recorded: Promise<void>[] = [];
    const act = (kind: ReconcileActionKind, taskId: string, detail: string) => {
      const a = { kind, taskId, detail };
      report.actions.push(a);
      this.events.emit(SANDBOX_EVENTS.reconciled, a);
      recorded.push(this.activity.recordAction(a));
    };
    const guard = async (taskId: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        report.errors.push({ taskId, message: (err as Error).message });
      }
    };
    // Only this registry's sandboxes: other data homes may share the engine.
    const mine = registryId(this.options);
    const [allContainers, allResources] = await Promise.all([
      this.runtime.list(),
      this.runtime.listResources(),
    ]);
    const containers = allContainers.filter((c) => c.labels[SANDBOX_LABELS.registry] === mine);
    const resources = allResources.filter((r) => r.registry === mine);
    const byTask = new Map<string, SandboxInfo>(containers.map((c) => [c.taskId, c]));

    // Warm-pool members carry the id of a task that does not exist yet: theirs while their record
    // says idle or creating (the pool reaps those); a claimed member whose task never got stored
    // is an orphan like any other, and so is a labelled pool sandbox without a record.
    const pool = new Map((await this.records.list(POOL_KIND)).map((r) => [r.id, r]));
    // Cases 1 and 2: live tasks that should have a sandbox.
    const seen = new Set<string>();
    for await (const task of this.liveTasks()) {
      if (!task.sandbox) continue;
      seen.add(task.id);
      if (pool.has(task.id)) {
        await this.records.delete(POOL_KIND, task.id).catch(() => undefined);
      }
      await guard(task.id, () => this.live(task, byTask.get(task.id), act));
    }

    // Cases 3 and 4: whatever the engine holds that no live task accounts for.
    const graceMs = this.options.sandbox.orphanGraceMs;
    const now = Date.now();
    const engineTasks = new Map<string, SandboxResource[]>();
    for (const r of resources) {
      if (!r.taskId || seen.has(r.taskId)) continue;
      engineTasks.set(r.taskId, [...(engineTasks.get(r.taskId) ?? []), r]);
    }
    for (const [taskId, res] of engineTasks) {
      await guard(taskId, async () => {
        const task = await this.repo.findById(taskId);
        const member = pool.get(taskId);
        if (member && task) {
          await this.records.delete(POOL_KIND, taskId); // claimed and stored: no longer the pool's
        }
        if (!task && member && member.status !== 'claimed') return;
        if (!task && member) {
          if (now - Date.parse(member.updatedAt) < graceMs) return;
          await this.runtime.remove(taskId);
          await this.records.delete(POOL_KIND, taskId);
          act('removed-pool-member', taskId, 'claimed warm sandbox whose task was never stored');
          return;
        }
        if (!task) {
          const newest = Math.max(...res.map((r) => Date.parse(r.createdAt ?? '') || 0));
          if (now - newest < graceMs) return;
          const removed = await this.runtime.remove(taskId);
          await this.placement.forget(taskId);
          await this.sessionStates.forget(taskId);
          if (removed.length) {
            act('removed-orphan', taskId, removed.map((r) => `${r.kind} ${r.name}`).join(', '));
          }
          return;
        }
        const info = byTask.get(taskId);
        if (
          isTerminal(task.status) &&
          info &&
          (info.state === 'running' || info.state === 'paused')
        ) {
          await this.sandboxes.stop(taskId);
          act('stopped', taskId, `task is ${task.status} but its sandbox was still ${info.state}`);
        }
      });
    }
    // Session states of tasks deleted while a command of theirs was finishing (it stored the
    // state after the task's sandbox and state were removed): they may hold exported secrets.
    await guard('', async () => {
      const ids = (await this.records.list(SESSION_STATE_KIND)).map((r) => r.id);
      if (!ids.length) return;
      const alive = new Set(await this.repo.existingIds(ids));
      for (const id of ids) if (!alive.has(id)) await this.sessionStates.forget(id);
    });
    await Promise.all(recorded);
    if (report.actions.length || report.errors.length) {
      this.logger.log(
        `reconciled: ${report.actions.length} action(s), ${report.errors.length} error(s)`,
      );
    }
    return report;
  }

  private async live(
    task: Task,
    info: SandboxInfo | undefined,
    act: (kind: ReconcileActionKind, taskId: string, detail: string) => void,
  ): Promise<void> {
    if (info) {
      const owner = info.labels['opencode-tools.instance-id'];
      if (info.state === 'running' || info.state === 'paused') {
        act(
          'adopted',
          task.id,
          `container ${info.name} is ${info.state} (created by ${owner ?? 'unknown'})`,
        );
        return;
      }
      // Created but never started, or exited under a live task: finish bringing it up.
      await this.sandboxes.ensureRunning(task);
      act('started', task.id, `container ${info.name} was ${info.state}`);
      return;
    }
    // Not on this engine: another host's orchestrator owns it (its reconciler repairs it).
    if (!(await this.placement.isHere(task.id))) return;
    if (this.options.sandbox.onVanished === 'recreate') {
      await this.sandboxes.ensureRunning(task);
      act('recreated', task.id, 'container was gone; re-created it (workspace volume kept)');
      return;
    }
    const reason = `sandbox container vanished (found by the reconciler at ${new Date().toISOString()})`;
    if (task.status === 'pending') await this.tasks.cancel(task.id, { reason });
    else await this.tasks.fail(task.id, { error: reason });
    act('failed-task', task.id, reason);
  }

  private async *liveTasks(): AsyncGenerator<Task> {
    // Snapshot first: failing a task while paging would shift the pages.
    const all: Task[] = [];
    for (let offset = 0; ; offset += PAGE) {
      const page = await this.repo.list({
        status: ['pending', 'running'],
        limit: PAGE,
        offset,
        sort: 'createdAt',
        order: 'asc',
      });
      all.push(...page.items);
      if (page.items.length < PAGE) break;
    }
    yield* all;
  }
}
