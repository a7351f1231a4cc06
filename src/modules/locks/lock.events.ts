/** EventEmitter2 events the LockManager publishes (for metrics; listen with `@OnEvent`). */
export const LOCK_EVENTS = {
  /** An acquire was refused because someone else holds the lock: {@link LockConflictEvent}. */
  conflict: 'opencode.lock.conflict',
  /** `acquireLockWithRetry` finished waiting, granted or not: {@link LockWaitEvent}. */
  wait: 'opencode.lock.wait',
} as const;

export interface LockConflictEvent {
  resource: string;
  holder: string;
}

export interface LockWaitEvent {
  resource: string;
  holder: string;
  waitedMs: number;
  attempts: number;
  granted: boolean;
}
