import type { PersistenceAdapters } from '../../ports/persistence-adapters.port';
import { openSqlite } from './open-sqlite';
import type { SqliteOptions } from './sqlite-data-source';
import { SqliteLockStore } from './sqlite-lock.store';
import { SqliteRuntimeRecordStore } from './sqlite-runtime-record.store';
import { SqliteTaskRepository } from './sqlite-task.repository';
import { openTaskMemory, type TaskMemoryOptions } from './task-memory';

export { SqliteTaskRepository, SqliteLockStore, openSqlite };

/** The embedded default: one SQLite file (WAL), migrated by TypeORM at start-up when needed. */
export async function createSqliteAdapters(
  opts: SqliteOptions & TaskMemoryOptions,
): Promise<PersistenceAdapters> {
  const { db, applied, close } = await openSqlite(opts);
  const memory = openTaskMemory(db, opts);
  return {
    description: `sqlite:${opts.path}`,
    migrations: applied,
    tasks: new SqliteTaskRepository(db),
    locks: new SqliteLockStore(db, opts.busyTimeoutMs),
    records: new SqliteRuntimeRecordStore(db),
    ...memory,
    close: async () => {
      await memory.logs.close().catch(() => undefined);
      await close();
    },
  };
}
