import type BetterSqlite3 from 'better-sqlite3';
import { ConflictError } from '../../domain/errors';
import type {
  NewRuntimeRecord,
  RuntimeRecord,
  RuntimeRecordStore,
} from '../../ports/runtime-record-store.port';

interface Row {
  kind: string;
  id: string;
  task_id: string | null;
  key: string | null;
  status: string;
  data: string;
  version: number;
  updated_at: string;
}

export function toRuntimeRecord(r: Row): RuntimeRecord {
  const rec: RuntimeRecord = {
    kind: r.kind,
    id: r.id,
    status: r.status,
    data: typeof r.data === 'string' ? JSON.parse(r.data) : r.data,
    version: r.version,
    updatedAt: r.updated_at,
  };
  if (r.task_id !== null) rec.taskId = r.task_id;
  if (r.key !== null) rec.key = r.key;
  return rec;
}

/** Runtime records in SQLite: single statements, updates conditional on the version. */
export class SqliteRuntimeRecordStore implements RuntimeRecordStore {
  /**
   * Statements prepared once: preparing costs ~12 µs a call, more than running one of these,
   * and a session command reads its task's session state on every call.
   */
  private readonly statements = new Map<string, BetterSqlite3.Statement>();

  constructor(private readonly db: BetterSqlite3.Database) {}

  private stmt(sql: string): BetterSqlite3.Statement {
    let s = this.statements.get(sql);
    if (!s) this.statements.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  async insert(rec: NewRuntimeRecord): Promise<{ record: RuntimeRecord; created: boolean }> {
    let row: Row | undefined;
    try {
      row = this.insertRow(rec);
    } catch (err) {
      if ((err as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT')) {
        throw new ConflictError(`${rec.kind} ${rec.id} already exists`);
      }
      throw err;
    }
    if (row) return { record: toRuntimeRecord(row), created: true };
    const same = rec.key !== undefined ? await this.findByKey(rec.kind, rec.key) : null;
    if (same) return { record: same, created: false };
    throw new ConflictError(`${rec.kind} ${rec.id} already exists`);
  }

  private insertRow(rec: NewRuntimeRecord): Row | undefined {
    return this.stmt(
      `INSERT INTO runtime_records (kind, id, task_id, key, status, data, version, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, 1, ?)
         ON CONFLICT (kind, key) WHERE key IS NOT NULL DO NOTHING RETURNING *`,
    ).get(
      rec.kind,
      rec.id,
      rec.taskId ?? null,
      rec.key ?? null,
      rec.status,
      JSON.stringify(rec.data),
      rec.updatedAt,
    ) as Row | undefined;
  }

  async get(kind: string, id: string): Promise<RuntimeRecord | null> {
    const r = this.stmt('SELECT * FROM runtime_records WHERE kind = ? AND id = ?').get(kind, id) as
      Row | undefined;
    return r ? toRuntimeRecord(r) : null;
  }

  async findByKey(kind: string, key: string): Promise<RuntimeRecord | null> {
    const r = this.stmt('SELECT * FROM runtime_records WHERE kind = ? AND key = ?').get(
      kind,
      key,
    ) as Row | undefined;
    return r ? toRuntimeRecord(r) : null;
  }

  async update(
    kind: string,
    id: string,
    expectedVersion: number,
    patch: { status: string; data: Record<string, unknown>; updatedAt: string },
  ): Promise<RuntimeRecord | null> {
    const r = this.stmt(
      `UPDATE runtime_records SET status = ?, data = ?, updated_at = ?, version = version + 1
         WHERE kind = ? AND id = ? AND version = ? RETURNING *`,
    ).get(patch.status, JSON.stringify(patch.data), patch.updatedAt, kind, id, expectedVersion) as
      Row | undefined;
    return r ? toRuntimeRecord(r) : null;
  }

  async list(
    kind: string,
    filter: { status?: string[]; taskId?: string } = {},
  ): Promise<RuntimeRecord[]> {
    const where = ['kind = ?'];
    const args: unknown[] = [kind];
    if (filter.status) {
      where.push(`status IN (${filter.status.map(() => '?').join(', ') || 'NULL'})`);
      args.push(...filter.status);
    }
    if (filter.taskId) {
      where.push('task_id = ?');
      args.push(filter.taskId);
    }
    const rows = this.db
      .prepare(`SELECT * FROM runtime_records WHERE ${where.join(' AND ')} ORDER BY updated_at, id`)
      .all(...args) as Row[];
    return rows.map(toRuntimeRecord);
  }

  async delete(kind: string, id: string): Promise<boolean> {
    return (
      this.stmt('DELETE FROM runtime_records WHERE kind = ? AND id = ?').run(kind, id).changes > 0
    );
  }
}
