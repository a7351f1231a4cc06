import type { OpenCodeToolsOptions } from '../config/options';
import type { CheckpointStore } from './checkpoint-store.port';
import type { DecisionStore } from './decision-store.port';
import type { DumpImporter } from './dump-importer.port';
import type { ExecutionStore } from './execution-store.port';
import type { LockStore } from './lock-store.port';
import type { LogStore } from './log-store.port';
import type { RuntimeRecordStore } from './runtime-record-store.port';
import type { StateStore } from './state-store.port';
import type { TaskRepository } from './task-repository.port';

export const PERSISTENCE_ADAPTERS = Symbol('opencode-tools:PersistenceAdapters');

/**
 * One storage family's implementations of the persistence ports (SQLite, memory, Postgres…),
 * opened together so they share a connection, and closed together at shutdown.
 */
export interface PersistenceAdapters {
  /** Human name for diagnostics, e.g. `sqlite:/home/me/.opencode/opencode.db`. */
  readonly description: string;
  readonly tasks: TaskRepository;
  /** Leases and fencing tokens (`LOCK_STORE`). */
  readonly locks: LockStore;
  /** Task memory (`STATE_STORE`, `LOG_STORE`, `DECISION_STORE`, `EXECUTION_STORE`, `CHECKPOINT_STORE`). */
  readonly state: StateStore;
  readonly logs: LogStore;
  readonly decisions: DecisionStore;
  readonly executions: ExecutionStore;
  readonly checkpoints: CheckpointStore;
  /** Loads an `opencode-tools export` dump (`opencode-tools import`); absent when unsupported. */
  readonly importer?: DumpImporter;
  /** Running executions and the like (`RUNTIME_RECORD_STORE`). */
  readonly records: RuntimeRecordStore;
  /** Migrations applied to the database, oldest first (SQL families; absent for memory). */
  readonly migrations?: readonly string[];
  close(): Promise<void>;
}

/** Opens a storage family. Passed to `OpenCodeToolsModule.forRoot({ adapters })` to plug in your own. */
export type PersistenceAdaptersFactory = (
  options: OpenCodeToolsOptions,
) => Promise<PersistenceAdapters>;
