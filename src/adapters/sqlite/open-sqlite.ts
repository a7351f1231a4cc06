import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { DomainError } from '../../domain/errors';
import { assertSchemaNotNewer } from '../shared/migrations';
import { SQLITE_MIGRATIONS } from './migrations';
import type { SqliteOptions } from './sqlite-data-source';

export interface SqliteHandle {
  db: Database.Database;
  /** Migrations recorded in the database after opening. */
  applied: string[];
  close(): Promise<void>;
}

/** The connection settings every path applies (TypeORM's driver applies the same when it opens). */
function configure(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
}

/**
 * Opens the SQLite file. When its schema is already current (the usual case for every CLI call
 * after the first), the file is opened directly with better-sqlite3 and TypeORM is never loaded:
 * loading it costs ~80 ms, a fifth of a CLI call. Otherwise TypeORM opens it and runs the
 * migrations. A schema newer than this code is refused on both paths.
 */
export async function openSqlite(opts: SqliteOptions): Promise<SqliteHandle> {
  const known = SQLITE_MIGRATIONS.map((m) => m.name);
  if (opts.path !== ':memory:' && existsSync(opts.path)) {
    let db: Database.Database | undefined;
    try {
      db = new Database(opts.path, { timeout: opts.busyTimeoutMs, fileMustExist: true });
      const hasTable = db
        .prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'`)
        .get();
      const applied = hasTable
        ? (db.prepare('SELECT name FROM migrations').all() as { name: string }[]).map((r) => r.name)
        : [];
      assertSchemaNotNewer(applied, known);
      if (known.every((n) => applied.includes(n))) {
        configure(db);
        const handle = db;
        return { db: handle, applied, close: async () => void handle.close() };
      }
    } catch (err) {
      db?.close();
      if (err instanceof DomainError) throw err;
      // Anything else (not a database, locked past the timeout…): the full path reports it.
    }
    db?.close();
  }
  const { openSqliteDataSource, rawSqlite } = await import('./sqlite-data-source');
  const ds = await openSqliteDataSource(opts);
  const applied = ((await ds.query('SELECT name FROM migrations')) as { name: string }[]).map(
    (r) => r.name,
  );
  return {
    db: rawSqlite(ds),
    applied,
    close: async () => {
      if (ds.isInitialized) await ds.destroy();
    },
  };
}
