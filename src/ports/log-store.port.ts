import type { LogEntry, LogQuery, LogRecord } from '../domain/history';

/** DI token for {@link LogStore}. */
export const LOG_STORE = Symbol('opencode-tools:LogStore');

/** When the JSONL log store forces data to disk. See README "Persistence". */
export const LOG_FSYNC_POLICIES = ['off', 'batch', 'always'] as const;
export type LogFsyncPolicy = (typeof LOG_FSYNC_POLICIES)[number];

/** A line that is not a valid log entry. Reported, never silently skipped. */
export interface CorruptLogLine {
  /** 1-based line number (absent on tail reads, which do not count lines from the start). */
  line?: number;
  /** Position (byte offset) of the line. */
  pos: number;
  reason: string;
  /** The first 200 characters of the line. */
  excerpt: string;
}

export interface LogReadResult {
  entries: LogRecord[];
  /** Where a follow-up read should continue (`from`), i.e. just after the last line scanned. */
  next: number;
  corrupt: CorruptLogLine[];
  /** Bytes of an unterminated last line (being written, or torn by a crash), not returned. */
  incompleteTailBytes: number;
}

export interface LogRepair {
  taskId: string;
  /** The file was cut back to this many bytes (the end of its last complete line). */
  truncatedTo: number;
  removedBytes: number;
  /** Where the torn fragment was kept. */
  keptAt?: string;
}

/**
 * Append-only task logs. `append` buffers; entries reach the file in groups (by size, on a short
 * interval, on `flush()`/`close()`). Implementations: JSONL files (default), in-memory; all pass
 * `test/contract/log-store.contract.ts`.
 *
 * @example
 * logs.append(taskId, { ts: new Date().toISOString(), level: 'info', message: 'started' });
 * const { entries } = await logs.read(taskId, logQuerySchema.parse({ tail: 100 }));
 */
export interface LogStore {
  /**
   * Queues an entry (already validated with `logEntrySchema`). Throws at once, writing nothing, when
   * the task's log would exceed its size cap.
   */
  append(taskId: string, entry: LogEntry): void;
  /** Writes everything queued (for one task or all) according to the fsync policy. */
  flush(taskId?: string): Promise<void>;
  /** Flushes, then returns the position just past the task's last entry (0 for no log). */
  end(taskId: string): Promise<number>;
  /**
   * Reads entries matching `query` without loading the whole log: forward from `from` (or the
   * start) with offset/limit, or the last `tail` matches read backwards.
   */
  read(taskId: string, query: LogQuery & { from?: number }): Promise<LogReadResult>;
  /** Marks entries in [from, to) as rewound by a restore of `checkpointId`. */
  markRewound(taskId: string, from: number, to: number, checkpointId: string): Promise<void>;
  /** Starts `toTask`'s log as a copy of `fromTask`'s entries before `position` (fork). */
  copyPrefix(fromTask: string, toTask: string, position: number): Promise<void>;
  /** Cuts a torn final line off (keeping it aside); null when the log was intact. */
  repair(taskId: string): Promise<LogRepair | null>;
  deleteTask(taskId: string): Promise<void>;
  /** Flushes and releases files and timers. */
  close(): Promise<void>;
}
