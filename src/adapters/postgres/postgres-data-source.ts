import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { DomainError } from '../../domain/errors';
import { assertSchemaNotNewer, failedMigration } from '../shared/migrations';
import { QuietTypeormLogger } from '../shared/typeorm-logger';
import { POSTGRES_MIGRATIONS } from './migrations';

export interface PostgresOptions {
  url: string;
  /** Connections in this process's pool. */
  poolSize: number;
  connectTimeoutMs: number;
}

/** `postgres://user@host:port/db` with the password replaced, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
  }
}

/** Advisory lock id serialising migrations across processes and hosts (see LOCK_IDS in README). */
const MIGRATION_LOCK_ID = 0x6f637430; // 'oct0'

/**
 * Opens the TypeORM data source on `pg` with a pool, and migrates under a session advisory lock so
 * several orchestrators starting at once migrate exactly once. One connection attempt, no retry
 * loop: an unreachable server is reported at once.
 */
export async function openPostgresDataSource(opts: PostgresOptions): Promise<DataSource> {
  const ds = new DataSource({
    type: 'postgres',
    url: opts.url,
    poolSize: opts.poolSize,
    connectTimeoutMS: opts.connectTimeoutMs,
    migrations: POSTGRES_MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    logging: false,
    logger: new QuietTypeormLogger(),
    extra: { max: opts.poolSize, application_name: 'opencode-tools' },
  });
  try {
    await ds.initialize();
  } catch (err) {
    throw new DomainError(
      'STORAGE_UNAVAILABLE',
      `cannot connect to Postgres at ${redactUrl(opts.url)} (OPENCODE_DATABASE_URL): ${(err as Error).message}`,
      { url: redactUrl(opts.url) },
    );
  }
  try {
    await migrate(ds);
  } catch (err) {
    await failedMigration(ds, err, POSTGRES_MIGRATIONS, {
      database: `Postgres database ${redactUrl(opts.url)}`,
      setting: 'OPENCODE_DATABASE_URL',
      fix: "if the database holds another program's tables, give opencode-tools a database of its own",
      details: { url: redactUrl(opts.url) },
    });
  }
  return ds;
}

async function migrate(ds: DataSource): Promise<void> {
  const pool = rawPool(ds);
  const lockClient = await pool.connect();
  try {
    await lockClient.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    await ds.runMigrations({ transaction: 'each' });
    const applied = (await lockClient.query<{ name: string }>('SELECT name FROM migrations')).rows;
    assertSchemaNotNewer(
      applied.map((r) => r.name),
      POSTGRES_MIGRATIONS.map((m) => m.name),
    );
  } finally {
    await lockClient
      .query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID])
      .catch(() => undefined);
    lockClient.release();
  }
}

/** The `pg` pool under a TypeORM data source, for hot paths. */
export function rawPool(ds: DataSource): Pool {
  return (ds.driver as unknown as { master: Pool }).master;
}
