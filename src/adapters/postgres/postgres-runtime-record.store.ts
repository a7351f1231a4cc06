import type { Pool } from 'pg';
import { ConflictError } from '../../domain/errors';
import type {
  NewRuntimeRecord,
  RuntimeRecord,
  RuntimeRecordStore,
} from '../../ports/runtime-record-store.port';
import { toRuntimeRecord } from '../sqlite/sqlite-runtime-record.store';
import { isoUtc } from './postgres-tx';

const COLS = `kind, id, task_id, key, status, data::text AS data, version, ${isoUtc('updated_at')} AS updated_at`;

/** Runtime records in Postgres: visible to every instance; updates conditional on the version. */
export class PostgresRuntimeRecordStore implements RuntimeRecordStore {
  constructor(private readonly pool: Pool) {}

  async insert(rec: NewRuntimeRecord): Promise<{ record: RuntimeRecord; created: boolean }> {
    try {
      const { rows } = await this.pool.query(
        `INSERT INTO runtime_records (kind, id, task_id, key, status, data, version, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7)
         ON CONFLICT (kind, key) WHERE key IS NOT NULL DO NOTHING RETURNING ${COLS}`,
        [
          rec.kind,
          rec.id,
          rec.taskId ?? null,
          rec.key ?? null,
          rec.status,
          JSON.stringify(rec.data),
          rec.updatedAt,
        ],
      );
      if (rows[0]) return { record: toRuntimeRecord(rows[0]), created: true };
    } catch (err) {
      if ((err as { code?: string }).code === '23505') {
        throw new ConflictError(`${rec.kind} ${rec.id} already exists`);
      }
      throw err;
    }
    const same = rec.key !== undefined ? await this.findByKey(rec.kind, rec.key) : null;
    if (same) return { record: same, created: false };
    throw new ConflictError(`${rec.kind} ${rec.id} already exists`);
  }

  async get(kind: string, id: string): Promise<RuntimeRecord | null> {
    const { rows } = await this.pool.query(
      `SELECT ${COLS} FROM runtime_records WHERE kind = $1 AND id = $2`,
      [kind, id],
    );
    return rows[0] ? toRuntimeRecord(rows[0]) : null;
  }

  async findByKey(kind: string, key: string): Promise<RuntimeRecord | null> {
    const { rows } = await this.pool.query(
      `SELECT ${COLS} FROM runtime_records WHERE kind = $1 AND key = $2`,
      [kind, key],
    );
    return rows[0] ? toRuntimeRecord(rows[0]) : null;
  }

  async update(
    kind: string,
    id: string,
    expectedVersion: number,
    patch: { status: string; data: Record<string, unknown>; updatedAt: string },
  ): Promise<RuntimeRecord | null> {
    const { rows } = await this.pool.query(
      `UPDATE runtime_records SET status = $1, data = $2, updated_at = $3, version = version + 1
       WHERE kind = $4 AND id = $5 AND version = $6 RETURNING ${COLS}`,
      [patch.status, JSON.stringify(patch.data), patch.updatedAt, kind, id, expectedVersion],
    );
    return rows[0] ? toRuntimeRecord(rows[0]) : null;
  }

  async list(
    kind: string,
    filter: { status?: string[]; taskId?: string } = {},
  ): Promise<RuntimeRecord[]> {
    const { rows } = await this.pool.query(
      `SELECT ${COLS} FROM runtime_records
       WHERE kind = $1 AND ($2::text[] IS NULL OR status = ANY($2)) AND ($3::text IS NULL OR task_id = $3)
       ORDER BY updated_at, id`,
      [kind, filter.status ?? null, filter.taskId ?? null],
    );
    return rows.map(toRuntimeRecord);
  }

  async delete(kind: string, id: string): Promise<boolean> {
    const r = await this.pool.query('DELETE FROM runtime_records WHERE kind = $1 AND id = $2', [
      kind,
      id,
    ]);
    return (r.rowCount ?? 0) > 0;
  }
}
