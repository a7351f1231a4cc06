import type BetterSqlite3 from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  PERSISTENCE_DEFAULTS,
  type PersistenceOptionsInput,
} from '../../config/persistence-options';
import { JsonlLogStore } from '../jsonl/jsonl-log.store';
import { SqliteCheckpointStore } from './sqlite-checkpoint.store';
import { SqliteDecisionStore } from './sqlite-decision.store';
import { SqliteExecutionStore } from './sqlite-execution.store';
import { SqliteStateStore } from './sqlite-state.store';

export interface TaskMemoryOptions {
  /** Data home: logs go to `<home>/logs`, checkpoint artifacts to `<home>/checkpoints`. */
  home?: string;
  persistence?: PersistenceOptionsInput;
}

/** The SQLite family's task-memory stores: tables in the database, JSONL logs and artifacts on disk. */
export function openTaskMemory(
  db: BetterSqlite3.Database,
  opts: { path: string } & TaskMemoryOptions,
) {
  const home =
    opts.home ??
    (opts.path === ':memory:' ? mkdtempSync(join(tmpdir(), 'oct-')) : dirname(opts.path));
  const p = { ...PERSISTENCE_DEFAULTS, ...opts.persistence };
  return {
    state: new SqliteStateStore(db, p.stateMaxBytes),
    logs: new JsonlLogStore({
      dir: join(home, 'logs'),
      fsync: p.logFsync,
      flushIntervalMs: p.logFlushIntervalMs,
      flushBytes: p.logFlushBytes,
      maxBytes: p.logMaxBytes,
    }),
    decisions: new SqliteDecisionStore(db),
    executions: new SqliteExecutionStore(db),
    checkpoints: new SqliteCheckpointStore(db, join(home, 'checkpoints')),
  };
}
