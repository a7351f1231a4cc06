import type { OpenCodeToolsOptions } from '../config/options';
import type { LockStore } from './lock-store.port';
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
  close(): Promise<void>;
}

/** Opens a storage family. Passed to `OpenCodeToolsModule.forRoot({ adapters })` to plug in your own. */
export type PersistenceAdaptersFactory = (
  options: OpenCodeToolsOptions,
) => Promise<PersistenceAdapters>;
