import type { Task } from '../domain/task';

/** DI token for {@link TaskSandboxLifecycle}; optional: without it tasks have no sandboxes. */
export const TASK_SANDBOX = Symbol('opencode-tools:TaskSandbox');

/**
 * The seam through which the task lifecycle drives sandboxes where a hook cannot: steps that must
 * succeed or fail together with the registry write, and keep their own error codes (an engine
 * that is down is exit 5, not a hook veto). Stop-on-finish is done by after-hooks instead.
 */
export interface TaskSandboxLifecycle {
  /**
   * Before a task with a `sandbox` spec is stored: checks the spec against the operator's
   * maximums, then creates and starts the sandbox. Throws (leaving nothing behind) when it cannot.
   */
  provision(task: Task): Promise<void>;
  /**
   * Before a new task with a `sandbox` spec is validated by hooks: claims a warm sandbox that fits
   * the spec, if any, and returns the task id to use (a warm sandbox already carries its future
   * task's id in its names and labels); `provision` then has nothing left to do. Undefined: none.
   */
  claimWarm?(task: Task): Promise<string | undefined>;
  /** Undoes `provision` when storing the task failed. Never throws. */
  release(taskId: string): Promise<void>;
  /** Before a task record is deleted: removes its container, network and workspace volume. */
  teardown(task: Task, opts: { force: boolean }): Promise<void>;
  /**
   * Throws `SANDBOX_UNAVAILABLE` naming the host when the task's sandbox lives on another
   * orchestrator's Docker engine (checkpoints and restores must run where the sandbox is).
   */
  assertLocal?(taskId: string): Promise<void>;
}
