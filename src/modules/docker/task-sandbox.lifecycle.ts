import { Injectable, Logger } from '@nestjs/common';
import type { Task } from '../../domain/task';
import type { TaskSandboxLifecycle } from '../../ports/task-sandbox.port';
import type { HookContext } from '../hooks/hook.types';
import { TaskHook } from '../hooks/task-hook.decorator';
import { SandboxPlacementService } from './sandbox-placement.service';
import { SandboxService } from './sandbox.service';
import { SessionStateService } from './session-state.service';
import { WarmPoolService } from './warm-pool.service';

/** Priority of the sandbox after-hooks: early, so later hooks see the sandbox in its new state. */
export const SANDBOX_HOOK_PRIORITY = 10;

/**
 * How the task lifecycle drives its sandbox (the policy the README documents):
 * - create (task has a `sandbox` spec): validate, create and start, before the task is stored;
 *   if that fails the task is not created and nothing is left behind;
 * - resume-task: the sandbox is started (re-created, workspace kept, if it vanished);
 * - complete / fail / cancel: the sandbox is stopped (SIGTERM, SIGKILL after the grace period)
 *   but kept, with its workspace, for inspection and checkpoints;
 * - delete / cleanup (also `--force` on an unfinished task): container, network and workspace
 *   volume are removed before the record is.
 */
@Injectable()
export class TaskSandboxLifecycleService implements TaskSandboxLifecycle {
  private readonly logger = new Logger('Sandboxes');

  /** Ids of warm sandboxes claimed for tasks being created right now. */
  private readonly claimed = new Set<string>();

  constructor(
    private readonly sandboxes: SandboxService,
    private readonly pool: WarmPoolService,
    private readonly placement: SandboxPlacementService,
    private readonly sessionStates: SessionStateService,
  ) {}

  async claimWarm(task: Task): Promise<string | undefined> {
    const id = await this.pool.claim(task);
    if (!id) return undefined;
    this.claimed.add(id);
    try {
      await this.placement.record(id);
    } catch (err) {
      await this.release(id);
      throw err;
    }
    return id;
  }

  assertLocal(taskId: string): Promise<void> {
    return this.placement.assertHere(taskId);
  }

  async provision(task: Task): Promise<void> {
    // A claimed warm sandbox is already created, started and named for this task.
    if (this.claimed.delete(task.id)) return;
    await this.sandboxes.provision(task);
  }

  async release(taskId: string): Promise<void> {
    this.claimed.delete(taskId);
    await this.sandboxes.remove(taskId).catch((err: Error) => {
      this.logger.warn(`could not remove the sandbox of task ${taskId}: ${err.message}`);
    });
  }

  async teardown(task: Task, opts: { force: boolean }): Promise<void> {
    if (!task.sandbox) return;
    try {
      await this.sandboxes.remove(task.id);
    } catch (err) {
      // A forced delete still goes ahead when the engine is down; the reconciler removes the
      // leftovers (labelled with a task id that no longer exists) once it is back.
      if (!opts.force) throw err;
      // The session state may hold exported secrets: it goes with the task even so.
      await this.sessionStates.forget(task.id).catch(() => undefined);
      this.logger.warn(
        `deleting task ${task.id} without removing its sandbox (${(err as Error).message}); the reconciler will remove it later`,
      );
    }
  }

  @TaskHook('afterTaskStart', { priority: SANDBOX_HOOK_PRIORITY, name: 'sandbox: start' })
  async onStart({ task }: HookContext): Promise<void> {
    // A sandbox on another host's engine is left to that host (ensureRunning says so).
    if (task.sandbox) await this.sandboxes.ensureRunning(task);
  }

  @TaskHook('afterTaskComplete', { priority: SANDBOX_HOOK_PRIORITY, name: 'sandbox: stop' })
  onComplete(ctx: HookContext): Promise<void> {
    return this.stop(ctx);
  }

  @TaskHook('afterTaskFail', { priority: SANDBOX_HOOK_PRIORITY, name: 'sandbox: stop' })
  onFail(ctx: HookContext): Promise<void> {
    return this.stop(ctx);
  }

  @TaskHook('afterTaskCancel', { priority: SANDBOX_HOOK_PRIORITY, name: 'sandbox: stop' })
  onCancel(ctx: HookContext): Promise<void> {
    return this.stop(ctx);
  }

  private async stop({ task }: HookContext): Promise<void> {
    if (task.sandbox) await this.sandboxes.stop(task.id);
  }
}
