import { ValidationError } from '../domain/errors';
import { parseDuration } from '../domain/duration';

export const LOG_FSYNC_VALUES = ['off', 'batch', 'always'] as const;

/** Settings of the task memory layers (state, logs, checkpoints). */
export interface PersistenceOptions {
  /** `off`: never fsync logs; `batch` (default): fdatasync each group write; `always`: every entry. */
  logFsync: (typeof LOG_FSYNC_VALUES)[number];
  /** Longest an appended log entry waits before its group is written (ms). */
  logFlushIntervalMs: number;
  /** A task's queued entries are written once they reach this many bytes. */
  logFlushBytes: number;
  /** Per-task log file cap (bytes); appends beyond it are refused with a VALIDATION error. */
  logMaxBytes: number;
  /** Largest state document (bytes of JSON). */
  stateMaxBytes: number;
  /** Hook events before which a checkpoint is taken automatically, e.g. `['beforeTaskComplete']`. */
  autoCheckpoint: string[];
}

export type PersistenceOptionsInput = Partial<PersistenceOptions>;

export const PERSISTENCE_DEFAULTS: PersistenceOptions = {
  logFsync: 'batch',
  logFlushIntervalMs: 20,
  logFlushBytes: 64 * 1024,
  logMaxBytes: 256 * 1024 * 1024,
  stateMaxBytes: 1024 * 1024,
  autoCheckpoint: [],
};

export const PERSISTENCE_ENV_VARS: Record<string, string> = {
  OPENCODE_LOG_FSYNC: `log durability: off, batch or always (default ${PERSISTENCE_DEFAULTS.logFsync})`,
  OPENCODE_LOG_FLUSH_INTERVAL: `longest a log entry waits before being written (duration, default ${PERSISTENCE_DEFAULTS.logFlushIntervalMs}ms)`,
  OPENCODE_LOG_MAX_BYTES: `per-task log size cap in bytes (default ${PERSISTENCE_DEFAULTS.logMaxBytes})`,
  OPENCODE_AUTO_CHECKPOINT:
    'comma-separated hook events before which a checkpoint is taken, e.g. beforeTaskComplete (default none)',
  OPENCODE_STATE_MAX_BYTES: `largest task state document in bytes of JSON (default ${PERSISTENCE_DEFAULTS.stateMaxBytes})`,
};

export function resolvePersistenceOptions(input: PersistenceOptionsInput = {}): PersistenceOptions {
  const out = { ...PERSISTENCE_DEFAULTS };
  for (const [k, v] of Object.entries(input)) if (v !== undefined) (out as any)[k] = v;
  return out;
}

function bytes(name: string, raw: string, min: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    throw new ValidationError(name, `expected a whole number of bytes >= ${min}, got '${raw}'`);
  }
  return n;
}

/** Reads the `OPENCODE_LOG_*` / `OPENCODE_STATE_*` variables; an invalid value names its variable. */
export function persistenceOptionsFromEnv(
  get: (name: string) => string | undefined,
): PersistenceOptionsInput {
  const fsync = get('OPENCODE_LOG_FSYNC');
  if (fsync !== undefined && !LOG_FSYNC_VALUES.includes(fsync as never)) {
    throw new ValidationError(
      'OPENCODE_LOG_FSYNC',
      `'${fsync}' is not one of: ${LOG_FSYNC_VALUES.join(', ')}`,
    );
  }
  const interval = get('OPENCODE_LOG_FLUSH_INTERVAL');
  const logMax = get('OPENCODE_LOG_MAX_BYTES');
  const stateMax = get('OPENCODE_STATE_MAX_BYTES');
  const auto = get('OPENCODE_AUTO_CHECKPOINT');
  const autoCheckpoint = auto
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const event of autoCheckpoint ?? []) {
    if (!/^(before|after)Task[A-Z][a-zA-Z]+$/.test(event)) {
      throw new ValidationError(
        'OPENCODE_AUTO_CHECKPOINT',
        `'${event}' is not a hook event such as beforeTaskComplete`,
      );
    }
  }
  return {
    autoCheckpoint,
    logFsync: fsync as PersistenceOptions['logFsync'] | undefined,
    logFlushIntervalMs: interval
      ? parseDuration(interval, 'OPENCODE_LOG_FLUSH_INTERVAL')
      : undefined,
    logMaxBytes: logMax ? bytes('OPENCODE_LOG_MAX_BYTES', logMax, 4096) : undefined,
    stateMaxBytes: stateMax ? bytes('OPENCODE_STATE_MAX_BYTES', stateMax, 2) : undefined,
  };
}
