import type { ExecResult, PullProgress, SandboxStats } from '../../ports/sandbox-runtime.port';

/** EventEmitter2 events the Docker module publishes (listen with `@OnEvent(SANDBOX_EVENTS.alert)`). */
export const SANDBOX_EVENTS = {
  /** An image pull for a task's sandbox made progress: {@link SandboxPullEvent}. */
  pullProgress: 'opencode.sandbox.pullProgress',
  /** A command finished in a sandbox: {@link SandboxExecEvent} (for the executions journal). */
  exec: 'opencode.sandbox.exec',
  /** A resource threshold was crossed or a process was OOM-killed: {@link SandboxAlert}. */
  alert: 'opencode.sandbox.alert',
  /** The reconciler acted: {@link ReconcileAction}. */
  reconciled: 'opencode.sandbox.reconciled',
} as const;

export interface SandboxPullEvent extends PullProgress {
  taskId: string;
}

export interface SandboxExecEvent {
  taskId: string;
  agentId?: string;
  executionId: string;
  command: string[] | { shell: string };
  result: ExecResult;
}

export type SandboxAlertKind = 'memoryHigh' | 'pidsAtLimit' | 'oomKilled';

export interface SandboxAlert {
  kind: SandboxAlertKind;
  taskId: string;
  message: string;
  stats?: SandboxStats;
  at: string;
}
