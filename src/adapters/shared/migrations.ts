import type { DataSource } from 'typeorm';
import { DomainError } from '../../domain/errors';

/**
 * Refuses a database that has migrations this code does not know: it was written by a newer
 * version, and running against it could corrupt data.
 */
export function assertSchemaNotNewer(applied: readonly string[], known: readonly string[]): void {
  const unknown = applied.filter((n) => !known.includes(n));
  if (!unknown.length) return;
  throw new DomainError(
    'STORAGE_UNAVAILABLE',
    `the database schema is newer than this version of opencode-tools (unknown migrations: ${unknown.join(
      ', ',
    )}); upgrade opencode-tools or point OPENCODE_DATABASE_URL at another database`,
    { unknown },
  );
}

/**
 * The first of `known` that the database has not recorded: after a failed migration run, the one
 * that failed (TypeORM names it only in a log line). `undefined` when that cannot be read.
 */
export async function firstPendingMigration(
  ds: DataSource,
  known: readonly { name: string }[],
): Promise<string | undefined> {
  try {
    const rows: { name: string }[] = await ds.query('SELECT name FROM migrations');
    const applied = new Set(rows.map((r) => r.name));
    return known.find((m) => !applied.has(m.name))?.name;
  } catch {
    return known[0]?.name; // no migrations table yet: the first one failed
  }
}
