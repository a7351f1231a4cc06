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
