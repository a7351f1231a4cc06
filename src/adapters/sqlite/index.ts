import type { PersistenceAdapters } from '../../ports/persistence-adapters.port';
import { openSqliteDataSource, rawSqlite, type SqliteOptions } from './sqlite-data-source';
import { SqliteLockStore } from './sqlite-lock.store';
import { SqliteTaskRepository } from './sqlite-task.repository';
import { openTaskMemory, type TaskMemoryOptions } from './task-memory';

export { SqliteTaskRepository, SqliteLockStore, openSqliteDataSource, rawSqlite };

/** The embedded default: one SQLite file (WAL) opened through TypeORM, migrated at start-up. */
export async function createSqliteAdapters(
  opts: SqliteOptions & TaskMemoryOptions,
): Promise<PersistenceAdapters> {
  const ds = await openSqliteDataSource(opts);
  const db = rawSqlite(ds);
  const memory = openTaskMemory(db, opts);
  return {
    description: `sqlite:${opts.path}`,
    tasks: new SqliteTaskRepository(db),
    locks: new SqliteLockStore(db, opts.busyTimeoutMs),
    ...memory,
    close: async () => {
      await memory.logs.close().catch(() => undefined);
      if (ds.isInitialized) await ds.destroy();
    },
  };
}
