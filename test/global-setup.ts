import { startPostgres, type PgServer } from './helpers/postgres-server';

declare global {
  var __OCT_PG__: PgServer | undefined;
}

/**
 * Starts one throwaway PostgreSQL server for the whole run and publishes its URL in
 * OPENCODE_TEST_PG_URL. Without PostgreSQL binaries the Postgres suites skip loudly, except under
 * CI=true, where that is a failure.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.OPENCODE_TEST_PG_URL) return;
  try {
    const server = await startPostgres();
    globalThis.__OCT_PG__ = server;
    process.env.OPENCODE_TEST_PG_URL = server.url;
  } catch (err) {
    const msg = `PostgreSQL test server could not start: ${(err as Error).message}`;
    if (process.env.CI === 'true') throw new Error(`${msg} (CI=true: Postgres suites must run)`);
    process.stderr.write(`\n*** WARNING: ${msg}; Postgres suites will be SKIPPED ***\n\n`);
  }
}
