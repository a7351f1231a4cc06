import type { Pool, PoolClient } from 'pg';
import { ConflictError, NotFoundError } from '../../domain/errors';
import type { Task, TaskPatch, TaskStatus } from '../../domain/task';
import type { ListTasksQuery } from '../../domain/task.schema';
import { emptyStatusCounts, versionConflict } from '../../domain/task-query';
import type {
  DurationStats,
  TaskPage,
  TaskRepository,
  TaskSearchQuery,
  TaskStats,
} from '../../ports/task-repository.port';
import {
  fromRow,
  listOrder,
  listWhere,
  PATCH_COLUMN,
  patchKeys,
  patchValue,
  searchWhere,
  TASK_COLUMNS,
  toRow,
  type TaskRow,
} from '../shared/task-row';

/** Columns selected so JSON comes back as text and timestamps as ISO strings (as in SQLite). */
const SELECT = `id, name, description, owner, mode, status, metadata::text AS metadata, sandbox::text AS sandbox,
  version, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at,
  to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS updated_at,
  to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS started_at,
  to_char(ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ended_at,
  result::text AS result, error`;

/** Rows per INSERT statement (15 parameters each; Postgres allows 65535). */
const INSERT_CHUNK = 1000;

function placeholders(rowCount: number, offset = 0): string {
  const n = TASK_COLUMNS.length;
  const rows: string[] = [];
  for (let r = 0; r < rowCount; r++) {
    rows.push(`(${TASK_COLUMNS.map((_, c) => `$${offset + r * n + c + 1}`).join(', ')})`);
  }
  return rows.join(', ');
}

/** The single-row INSERT (create-task's path), built once: see bench/postgres.mjs. */
const INSERT_ONE = `INSERT INTO tasks (${TASK_COLUMNS.join(', ')}) VALUES ${placeholders(1)}`;

/**
 * Postgres registry over the `pg` pool that TypeORM opened. Single statements are atomic; the
 * optimistic version check is one `UPDATE … WHERE id = $1 AND version = $2 RETURNING`, so
 * concurrent writers on any number of hosts get exactly one winner.
 */
export class PostgresTaskRepository implements TaskRepository {
  constructor(private readonly pool: Pool) {}

  async insert(task: Task): Promise<void> {
    await this.insertRows(this.pool, [task]);
  }

  async insertMany(tasks: Task[]): Promise<void> {
    if (tasks.length <= INSERT_CHUNK) return this.insertRows(this.pool, tasks);
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      for (let i = 0; i < tasks.length; i += INSERT_CHUNK) {
        await this.insertRows(client, tasks.slice(i, i + INSERT_CHUNK));
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  private async insertRows(db: Pool | PoolClient, tasks: Task[]): Promise<void> {
    if (!tasks.length) return;
    const values = tasks.flatMap((t) => {
      const r = toRow(t);
      return TASK_COLUMNS.map((c) => r[c]);
    });
    try {
      await db.query(
        tasks.length === 1
          ? INSERT_ONE
          : `INSERT INTO tasks (${TASK_COLUMNS.join(', ')}) VALUES ${placeholders(tasks.length)}`,
        values,
      );
    } catch (err) {
      if ((err as { code?: string }).code === '23505') {
        const id = tasks.length === 1 ? tasks[0].id : '(batch)';
        throw new ConflictError(`task ${id} already exists`, { taskId: id });
      }
      throw err;
    }
  }

  async findById(id: string): Promise<Task | null> {
    const { rows } = await this.pool.query<TaskRow>(`SELECT ${SELECT} FROM tasks WHERE id = $1`, [
      id,
    ]);
    return rows[0] ? fromRow(rows[0]) : null;
  }

  async update(
    id: string,
    expectedVersion: number,
    patch: TaskPatch,
    updatedAt: string,
  ): Promise<Task> {
    const keys = patchKeys(patch);
    const params: unknown[] = [id, expectedVersion, updatedAt];
    const sets = keys.map((k) => `${PATCH_COLUMN[k]} = $${params.push(patchValue(k, patch[k]))}`);
    const { rows } = await this.pool.query<TaskRow>(
      `UPDATE tasks SET ${[...sets, 'version = version + 1', 'updated_at = $3'].join(', ')}
       WHERE id = $1 AND version = $2 RETURNING ${SELECT}`,
      params,
    );
    if (rows[0]) return fromRow(rows[0]);
    const current = await this.pool.query<{ version: number }>(
      'SELECT version FROM tasks WHERE id = $1',
      [id],
    );
    if (!current.rows[0]) throw new NotFoundError('task', id);
    throw versionConflict(id, expectedVersion, current.rows[0].version);
  }

  async delete(id: string, expectedVersion?: number): Promise<void> {
    const res =
      expectedVersion === undefined
        ? await this.pool.query('DELETE FROM tasks WHERE id = $1', [id])
        : await this.pool.query('DELETE FROM tasks WHERE id = $1 AND version = $2', [
            id,
            expectedVersion,
          ]);
    if (res.rowCount) return;
    const current = await this.pool.query<{ version: number }>(
      'SELECT version FROM tasks WHERE id = $1',
      [id],
    );
    if (!current.rows[0]) throw new NotFoundError('task', id);
    throw versionConflict(id, expectedVersion ?? -1, current.rows[0].version);
  }

  async list(q: ListTasksQuery): Promise<TaskPage> {
    const params: unknown[] = [];
    const where = listWhere(q, (v) => `$${params.push(v)}`);
    const [page, count] = await Promise.all([
      this.pool.query<TaskRow>(
        `SELECT ${SELECT} FROM tasks ${where} ${listOrder(q)} LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
        [...params, q.limit, q.offset],
      ),
      this.pool.query<{ n: number }>(`SELECT COUNT(*)::int AS n FROM tasks ${where}`, params),
    ]);
    return {
      items: page.rows.map(fromRow),
      total: count.rows[0].n,
      limit: q.limit,
      offset: q.offset,
    };
  }

  async existingIds(ids: string[]): Promise<string[]> {
    if (!ids.length) return [];
    const { rows } = await this.pool.query<{ id: string }>(
      'SELECT id FROM tasks WHERE id = ANY($1::text[])',
      [ids],
    );
    return rows.map((r) => r.id);
  }

  async search(q: TaskSearchQuery): Promise<TaskPage> {
    const params: unknown[] = [];
    const where = searchWhere(q, (v) => `$${params.push(v)}`, 'ILIKE', 'metadata::text');
    const order = listOrder({ sort: q.sort ?? 'createdAt', order: q.order ?? 'desc' });
    const [page, count] = await Promise.all([
      this.pool.query<TaskRow>(
        `SELECT ${SELECT} FROM tasks ${where} ${order} LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
        [...params, q.limit, q.offset],
      ),
      this.pool.query<{ n: number }>(`SELECT COUNT(*)::int AS n FROM tasks ${where}`, params),
    ]);
    return {
      items: page.rows.map(fromRow),
      total: count.rows[0].n,
      limit: q.limit,
      offset: q.offset,
    };
  }

  async stats(filter: { owner?: string } = {}): Promise<TaskStats> {
    const where = filter.owner ? 'WHERE owner = $1' : '';
    const params = filter.owner ? [filter.owner] : [];
    const grouped = await this.pool.query<{ owner: string; status: TaskStatus; n: number }>(
      `SELECT owner, status, COUNT(*)::int AS n FROM tasks ${where} GROUP BY owner, status`,
      params,
    );
    const byStatus = emptyStatusCounts();
    const owners = new Map<string, TaskStats['byOwner'][number]>();
    let total = 0;
    for (const g of grouped.rows) {
      total += g.n;
      byStatus[g.status] += g.n;
      const o = owners.get(g.owner) ?? { owner: g.owner, total: 0, byStatus: {} };
      o.total += g.n;
      o.byStatus[g.status] = g.n;
      owners.set(g.owner, o);
    }
    const dur = await this.pool.query<{ status: TaskStatus } & DurationStats>(
      `SELECT status, COUNT(*)::int AS "count", AVG(ms)::float8 AS "avgMs", MIN(ms)::float8 AS "minMs", MAX(ms)::float8 AS "maxMs"
       FROM (SELECT status, ROUND(EXTRACT(EPOCH FROM (ended_at - started_at)) * 1000) AS ms FROM tasks
             ${where ? `${where} AND` : 'WHERE'} started_at IS NOT NULL AND ended_at IS NOT NULL) d
       GROUP BY status`,
      params,
    );
    const durations: TaskStats['durations'] = {};
    for (const d of dur.rows)
      durations[d.status] = { count: d.count, avgMs: d.avgMs, minMs: d.minMs, maxMs: d.maxMs };
    const byOwner = [...owners.values()].sort(
      (a, b) => b.total - a.total || a.owner.localeCompare(b.owner),
    );
    return { total, byStatus, byOwner, durations };
  }
}
