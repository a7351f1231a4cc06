import type { ExecutionQuery, ExecutionRecord } from '../domain/execution';

/** DI token for {@link ExecutionStore}. */
export const EXECUTION_STORE = Symbol('opencode-tools:ExecutionStore');

export interface ExecutionPage {
  items: ExecutionRecord[];
  total: number;
  limit: number;
  offset: number;
}

/**
 * The executions journal: one record per command run in a task's sandbox. Records are immutable
 * once written, except for the `rewoundBy` mark a checkpoint restore sets.
 * Implementations: SQLite (default), in-memory. All pass `test/contract/execution-store.contract.ts`.
 *
 * @example
 * await executions.record({ id: newId('exe'), taskId, agentId, command: ['npm', 'test'],
 *   startedAt, durationMs: 812, exitCode: 0, timedOut: false, truncated: false,
 *   stdoutBytes: 120, stderrBytes: 0, stdoutHead: '…', stdoutTail: '', stderrHead: '', stderrTail: '' });
 */
export interface ExecutionStore {
  /**
   * Appends a record (already validated, e.g. with `executionRecordSchema`); returns it with its `seq`.
   * @throws ConflictError when a record with this id exists.
   */
  record(rec: ExecutionRecord): Promise<ExecutionRecord>;
  get(id: string): Promise<ExecutionRecord | null>;
  list(query: ExecutionQuery): Promise<ExecutionPage>;
  /** The highest `seq` of the task's records (0 when none): a checkpoint's high-water mark. */
  mark(taskId: string): Promise<number>;
  /** Marks the task's records with `seq > afterSeq` (not yet rewound) as rewound by `checkpointId`. */
  markRewound(taskId: string, afterSeq: number, checkpointId: string): Promise<number>;
  /** Removes every record of the task; returns how many. */
  deleteForTask(taskId: string): Promise<number>;
}
