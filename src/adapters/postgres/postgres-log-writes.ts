import type { Pool, PoolClient } from 'pg';
import { logCapError } from '../jsonl/log-cap';
import type { LogRowInput } from './postgres-log-rows';
import { inTransaction, lockTask, PG_LOCK_SPACE } from './postgres-tx';

/** A task's next position (= its number of entries) and its stored bytes. */
export interface LogHead {
  next_pos: number;
  bytes: number;
}

export async function logHead(db: Pool | PoolClient, taskId: string): Promise<LogHead> {
  const { rows } = await db.query<LogHead>(
    'SELECT next_pos::float8 AS next_pos, bytes::float8 AS bytes FROM task_log_heads WHERE task_id = $1',
    [taskId],
  );
  return rows[0] ?? { next_pos: 0, bytes: 0 };
}

/** Runs `fn` in a transaction holding the task's log lock (writers of one log across all hosts). */
function underLogLock<T>(pool: Pool, taskId: string, fn: (c: PoolClient) => Promise<T>) {
  return inTransaction(pool, async (c) => {
    await lockTask(c, PG_LOCK_SPACE.taskLog, taskId);
    return fn(c);
  });
}

const SET_HEAD = `INSERT INTO task_log_heads (task_id, next_pos, bytes) VALUES ($1, $2, $3)
  ON CONFLICT (task_id) DO UPDATE SET next_pos = EXCLUDED.next_pos, bytes = EXCLUDED.bytes`;

/**
 * Appends a group at the task's next positions. Under the lock the cap is checked against the
 * stored total (other hosts' entries included): the entries that no longer fit are not written
 * and counted in `dropped`.
 */
export function writeLogGroup(
  pool: Pool,
  taskId: string,
  group: LogRowInput[],
  maxBytes: number,
): Promise<{ head: LogHead; dropped: number }> {
  return underLogLock(pool, taskId, async (c) => {
    const head = await logHead(c, taskId);
    let n = 0;
    let bytes = head.bytes;
    while (n < group.length && bytes + group[n].bytes <= maxBytes) bytes += group[n++].bytes;
    if (!n) return { head, dropped: group.length };
    const rows = group.slice(0, n);
    const next = { next_pos: head.next_pos + n, bytes };
    await c.query(
      `WITH ins AS (
         INSERT INTO task_logs (task_id, pos, ts, level, message, message_json, data, bytes)
         SELECT $1, $4 + u.o - 1, u.ts, u.level, u.message, u.message_json::json, u.data::json, u.bytes
         FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int[])
           WITH ORDINALITY AS u(ts, level, message, message_json, data, bytes, o))
       ${SET_HEAD}`,
      [
        taskId,
        next.next_pos,
        next.bytes,
        head.next_pos,
        rows.map((r) => r.ts),
        rows.map((r) => r.level),
        rows.map((r) => r.message),
        rows.map((r) => r.messageJson),
        rows.map((r) => r.data),
        rows.map((r) => r.bytes),
      ],
    );
    return { head: next, dropped: group.length - n };
  });
}

/**
 * Puts the first `position` entries of `fromTask` (and their rewound marks, clipped) before
 * `toTask`'s own entries, whose positions and marks move up. Returns `toTask`'s new byte total.
 */
export function copyLogPrefix(
  pool: Pool,
  fromTask: string,
  toTask: string,
  position: number,
  maxBytes: number,
): Promise<number> {
  return underLogLock(pool, toTask, async (c) => {
    const k = Math.max(0, Math.min(position, (await logHead(c, fromTask)).next_pos));
    const own = await logHead(c, toTask);
    if (!k) return own.bytes;
    const { rows } = await c.query<{ b: number }>(
      'SELECT COALESCE(SUM(bytes), 0)::float8 AS b FROM task_logs WHERE task_id = $1 AND pos < $2',
      [fromTask, k],
    );
    const bytes = own.bytes + rows[0].b;
    if (bytes > maxBytes) throw logCapError(toTask, maxBytes);
    if (own.next_pos) {
      // Through negative positions: the primary key is checked row by row, and `pos + k` would
      // collide with rows not moved yet.
      await c.query('UPDATE task_logs SET pos = -1 - (pos + $2) WHERE task_id = $1', [toTask, k]);
      await c.query('UPDATE task_logs SET pos = -1 - pos WHERE task_id = $1', [toTask]);
      await c.query(
        'UPDATE task_log_rewinds SET from_pos = from_pos + $2, to_pos = to_pos + $2 WHERE task_id = $1',
        [toTask, k],
      );
    }
    await c.query(
      `INSERT INTO task_logs (task_id, pos, ts, level, message, message_json, data, bytes)
       SELECT $2, pos, ts, level, message, message_json, data, bytes FROM task_logs
       WHERE task_id = $1 AND pos < $3`,
      [fromTask, toTask, k],
    );
    await c.query(
      `INSERT INTO task_log_rewinds (task_id, from_pos, to_pos, checkpoint_id)
       SELECT $2, from_pos, LEAST(to_pos, $3), checkpoint_id FROM task_log_rewinds
       WHERE task_id = $1 AND from_pos < $3 ORDER BY id`,
      [fromTask, toTask, k],
    );
    await c.query(SET_HEAD, [toTask, own.next_pos + k, bytes]);
    return bytes;
  });
}

export function deleteLog(pool: Pool, taskId: string): Promise<void> {
  return underLogLock(pool, taskId, async (c) => {
    for (const table of ['task_logs', 'task_log_rewinds', 'task_log_heads']) {
      await c.query(`DELETE FROM ${table} WHERE task_id = $1`, [taskId]);
    }
  });
}
