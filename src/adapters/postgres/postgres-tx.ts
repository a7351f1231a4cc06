import type { Pool, PoolClient } from 'pg';
import { ValidationError } from '../../domain/errors';

/**
 * First keys of the two-key transaction advisory locks the task-memory stores take per task. The
 * two-key space does not overlap the one-key space that migrations and leases use, so these never
 * collide with a lease's `hashtext(resource)`. One place for every id (see also MIGRATION_LOCK_ID).
 */
export const PG_LOCK_SPACE = {
  taskLog: 0x6f637401,
  decisions: 0x6f637402,
  executions: 0x6f637403,
} as const;

export const UNIQUE_VIOLATION = '23505';
/** What Postgres says when a text value holds U+0000, which it cannot store. */
export const NUL_IN_TEXT = '22021';

export const pgCode = (err: unknown): string | undefined => (err as { code?: string }).code;

/** A timestamptz column as the ISO text the other adapters return (`2026-01-01T00:00:00.000Z`). */
export const isoUtc = (col: string): string =>
  `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** Runs `fn` in one transaction on one pooled connection; rolls back on throw. */
export async function inTransaction<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

/**
 * Serialises writers of one task's journal or log across processes and hosts until COMMIT.
 * Transaction-scoped, hence safe behind a transaction-pooling proxy.
 */
export async function lockTask(c: PoolClient, space: number, taskId: string): Promise<void> {
  await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [space, taskId]);
}

/** Postgres text cannot hold U+0000 (SQLite can): say so instead of failing with a driver error. */
export function nulTextError(err: unknown, field: string): unknown {
  if (pgCode(err) !== NUL_IN_TEXT) return err;
  return new ValidationError(
    field,
    'contains a NUL character (U+0000), which the PostgreSQL storage cannot keep in text; remove it',
  );
}
