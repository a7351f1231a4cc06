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
 * Closes a data source whose migration run failed and throws what the caller sees: a DomainError
 * (a schema newer than the code) as it is, anything else as STORAGE_UNAVAILABLE naming the
 * database (`where`: its location and the setting that chose it), the migration that failed and
 * `fix`.
 */
export async function failedMigration(
  ds: DataSource,
  err: unknown,
  known: readonly { name: string }[],
  where: { database: string; setting: string; fix: string; details: Record<string, unknown> },
): Promise<never> {
  const failed = err instanceof DomainError ? undefined : await firstPendingMigration(ds, known);
  await ds.destroy().catch(() => undefined);
  if (err instanceof DomainError) throw err;
  throw new DomainError(
    'STORAGE_UNAVAILABLE',
    `cannot migrate ${where.database} (${where.setting}): ${failed ? `migration ${failed}: ` : ''}${(err as Error).message}; ${where.fix}`,
    { ...where.details, ...(failed ? { migration: failed } : {}) },
  );
}

/**
 * The first of `known` that the database has not recorded: after a failed migration run, the one
 * that failed (TypeORM names it only in a log line). `undefined` when that cannot be read.
 */
async function firstPendingMigration(
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
