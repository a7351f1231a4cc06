import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { DataSource } from 'typeorm';
import { DomainError } from '../../domain/errors';
import { assertSchemaNotNewer, failedMigration } from '../shared/migrations';
import { QuietTypeormLogger } from '../shared/typeorm-logger';
import { SQLITE_MIGRATIONS } from './migrations';

export interface SqliteOptions {
  /** Database file path, or ':memory:'. */
  path: string;
  /** How long a writer waits for another process's write lock before failing (ms). */
  busyTimeoutMs: number;
}

/**
 * Builds and opens the TypeORM data source on better-sqlite3: WAL journal, busy timeout, schema
 * brought up to date by migrations (never `synchronize`). Start-up races between processes that
 * migrate the same fresh file at once are retried.
 */
export async function openSqliteDataSource(opts: SqliteOptions): Promise<DataSource> {
  const ds = new DataSource({
    type: 'better-sqlite3',
    database: opts.path,
    enableWAL: opts.path !== ':memory:',
    timeout: opts.busyTimeoutMs,
    migrations: SQLITE_MIGRATIONS,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    logger: new QuietTypeormLogger(),
    prepareDatabase: (db: BetterSqlite3.Database) => {
      // NORMAL is durable across application crashes in WAL mode; only an OS crash can lose the last commits.
      db.pragma('synchronous = NORMAL');
    },
  });
  try {
    if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true, mode: 0o700 });
    await ds.initialize();
  } catch (err) {
    throw new DomainError(
      'STORAGE_UNAVAILABLE',
      `cannot open SQLite database '${opts.path}' (OPENCODE_DATABASE_URL / OPENCODE_HOME): ${(err as Error).message}`,
      { path: opts.path },
    );
  }
  try {
    await migrate(ds);
  } catch (err) {
    await failedMigration(ds, err, SQLITE_MIGRATIONS, {
      database: `SQLite database '${opts.path}'`,
      setting: 'OPENCODE_DATABASE_URL / OPENCODE_HOME',
      fix: "if the file holds another program's tables, point OPENCODE_DATABASE_URL at a file of its own",
      details: { path: opts.path },
    });
  }
  return ds;
}

async function migrate(ds: DataSource): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await ds.runMigrations({ transaction: 'each' });
      break;
    } catch (err) {
      const msg = String((err as Error).message);
      const racing = /SQLITE_BUSY|database is locked|already exists/i.test(msg);
      if (!racing || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
    }
  }
  const applied: { name: string }[] = await ds.query('SELECT name FROM migrations');
  assertSchemaNotNewer(
    applied.map((r) => r.name),
    SQLITE_MIGRATIONS.map((m) => m.name),
  );
}

/** The better-sqlite3 handle under a TypeORM data source, for prepared-statement hot paths. */
export function rawSqlite(ds: DataSource): BetterSqlite3.Database {
  return (ds.driver as unknown as { databaseConnection: BetterSqlite3.Database })
    .databaseConnection;
}
