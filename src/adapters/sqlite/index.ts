import type { PersistenceAdapters } from '../../ports/persistence-adapters.port';
import { openSqlite } from './open-sqlite';
import { startCheckpointer } from './sqlite-checkpointer';
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
  // WAL checkpoints on a worker thread of their own, once the process has run for a second.
  const checkpointer = startCheckpointer(db, opts.path, {
    busyTimeoutMs: opts.busyTimeoutMs,
    onError: (m) =>
      process.stderr.write(`opencode-tools: ${m}; checkpoints run on commits again\n`),
  });
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
      await checkpointer?.close();
      await close();
    },
  };
}
