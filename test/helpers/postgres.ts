import { Client } from 'pg';
import { randomBytes } from 'node:crypto';
import { createPostgresAdapters, type PostgresAdaptersOptions } from '../../src/adapters/postgres';
import type { PersistenceAdapters } from '../../src/ports/persistence-adapters.port';
import { tempHome } from './temp-home';

/** URL of the run's throwaway server (set by test/global-setup.ts), or undefined when absent. */
export const PG_URL = process.env.OPENCODE_TEST_PG_URL;

/** `describe` when a Postgres test server runs, else a loudly skipped `describe`. */
export function describePg(name: string, fn: () => void): void {
  if (PG_URL) {
    describe(name, fn);
  } else {
    if (process.env.CI === 'true')
      throw new Error(`${name}: no Postgres test server under CI=true`);
    describe.skip(`${name} (SKIPPED: no PostgreSQL server binaries)`, fn);
  }
}

/** Creates a fresh database on the test server; returns its URL and a function dropping it. */
export async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!PG_URL) throw new Error('no Postgres test server');
  const name = `oct_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = PG_URL.replace(/\/[^/]*$/, `/${name}`);
  return {
    url,
    drop: async () => {
      const c = new Client({ connectionString: PG_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * The Postgres adapter family on a fresh database and a fresh data home (for checkpoint archives);
 * `close` closes the pool, drops the database and removes the home.
 */
export async function freshPgAdapters(
  persistence?: PostgresAdaptersOptions['persistence'],
): Promise<{ adapters: PersistenceAdapters; close: () => Promise<void> }> {
  const db = await freshDatabase();
  const home = tempHome();
  const adapters = await createPostgresAdapters({
    url: db.url,
    poolSize: 4,
    connectTimeoutMs: 5000,
    home: home.dir,
    persistence,
  });
  return {
    adapters,
    close: async () => {
      await adapters.close();
      await db.drop();
      home.cleanup();
    },
  };
}
