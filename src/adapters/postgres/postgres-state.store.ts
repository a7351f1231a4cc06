import type { Pool } from 'pg';
import { serializeState, stateConflict, type StateDoc } from '../../domain/history';
import { DEFAULT_STATE_MAX_BYTES, type StateStore } from '../../ports/state-store.port';
import { isoUtc } from './postgres-tx';

interface Row {
  task_id: string;
  version: number;
  data: string;
  updated_at: string;
}

const RETURNING = `task_id, version, data::text AS data, ${isoUtc('updated_at')} AS updated_at`;

const toDoc = (r: Row): StateDoc => ({
  taskId: r.task_id,
  version: r.version,
  data: JSON.parse(r.data),
  updatedAt: r.updated_at,
});

/**
 * State documents in Postgres. A write is one statement conditional on the version the writer
 * read (`INSERT … ON CONFLICT DO NOTHING` for version 0, `UPDATE … WHERE version = $n` after), so
 * of any number of writers on any number of hosts exactly one wins; the others get CONFLICT.
 */
export class PostgresStateStore implements StateStore {
  constructor(
    private readonly pool: Pool,
    private readonly maxBytes = DEFAULT_STATE_MAX_BYTES,
  ) {}

  async get(taskId: string): Promise<StateDoc | null> {
    const { rows } = await this.pool.query<Row>(
      `SELECT ${RETURNING} FROM task_state WHERE task_id = $1`,
      [taskId],
    );
    return rows[0] ? toDoc(rows[0]) : null;
  }

  async put(
    taskId: string,
    data: Record<string, unknown>,
    expectedVersion: number,
    updatedAt: string,
  ): Promise<StateDoc> {
    const text = serializeState(taskId, data, this.maxBytes);
    const { rows } =
      expectedVersion === 0
        ? await this.pool.query<Row>(
            `INSERT INTO task_state (task_id, version, data, updated_at) VALUES ($1, 1, $2, $3)
             ON CONFLICT (task_id) DO NOTHING RETURNING ${RETURNING}`,
            [taskId, text, updatedAt],
          )
        : await this.pool.query<Row>(
            `UPDATE task_state SET version = version + 1, data = $2, updated_at = $3
             WHERE task_id = $1 AND version = $4 RETURNING ${RETURNING}`,
            [taskId, text, updatedAt, expectedVersion],
          );
    if (rows[0]) return toDoc(rows[0]);
    const current = await this.pool.query<{ version: number }>(
      'SELECT version FROM task_state WHERE task_id = $1',
      [taskId],
    );
    throw stateConflict(taskId, expectedVersion, current.rows[0]?.version ?? 0);
  }

  async delete(taskId: string): Promise<boolean> {
    const res = await this.pool.query('DELETE FROM task_state WHERE task_id = $1', [taskId]);
    return (res.rowCount ?? 0) > 0;
  }
}
