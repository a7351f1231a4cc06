import type { Pool } from 'pg';
import { ConflictError } from '../../domain/errors';
import { inTransaction, lockTask, nulTextError, pgCode, UNIQUE_VIOLATION } from './postgres-tx';

type Table = 'decisions' | 'executions';

export interface JournalQuery {
  taskId: string;
  agentId?: string;
  since?: string;
  until?: string;
  includeRewound: boolean;
  limit: number;
  offset: number;
  order: 'asc' | 'desc';
}

/**
 * What the decision and execution journals share: appends serialised per task, seq marks, rewound
 * marks and filtered pages. `seq` is an identity (global, never reused); it is drawn under a
 * per-task transaction advisory lock, so within a task seq order is commit order and a checkpoint's
 * `mark` (the highest committed seq) can never be overtaken by a smaller seq committing later.
 */
export class PostgresJournal {
  constructor(
    private readonly pool: Pool,
    private readonly table: Table,
    private readonly lockSpace: number,
    private readonly kind: string,
  ) {}

  /** Runs the INSERT (which must `RETURNING` the row) under the task's lock; maps duplicates. */
  async insert<R>(taskId: string, id: string, sql: string, params: unknown[]): Promise<R> {
    try {
      return await inTransaction(this.pool, async (c) => {
        await lockTask(c, this.lockSpace, taskId);
        return (await c.query(sql, params)).rows[0] as R;
      });
    } catch (err) {
      if (pgCode(err) === UNIQUE_VIOLATION) {
        throw new ConflictError(`${this.kind} ${id} already exists`, { id });
      }
      throw nulTextError(err, this.kind);
    }
  }

  async mark(taskId: string): Promise<number> {
    const { rows } = await this.pool.query<{ m: number }>(
      `SELECT COALESCE(MAX(seq), 0)::float8 AS m FROM ${this.table} WHERE task_id = $1`,
      [taskId],
    );
    return rows[0].m;
  }

  /** One statement: concurrent restores each mark only rows the other has not (row locks + recheck). */
  async markRewound(taskId: string, afterSeq: number, by: string): Promise<number> {
    const res = await this.pool.query(
      `UPDATE ${this.table} SET rewound_by = $3
       WHERE task_id = $1 AND seq > $2 AND rewound_by IS NULL`,
      [taskId, afterSeq, by],
    );
    return res.rowCount ?? 0;
  }

  async deleteForTask(taskId: string): Promise<number> {
    const res = await this.pool.query(`DELETE FROM ${this.table} WHERE task_id = $1`, [taskId]);
    return res.rowCount ?? 0;
  }

  /**
   * A filtered page and the total. `extra` adds conditions (already in SQL) to the common filters;
   * `timeColumn` is the timestamptz the since/until bounds apply to.
   */
  async page<R>(
    select: string,
    q: JournalQuery,
    timeColumn: string,
    extra: string[] = [],
  ): Promise<{ rows: R[]; total: number }> {
    const params: unknown[] = [q.taskId];
    const where = ['task_id = $1', ...extra];
    if (q.agentId) where.push(`agent_id = $${params.push(q.agentId)}`);
    if (q.since) where.push(`${timeColumn} >= $${params.push(q.since)}`);
    if (q.until) where.push(`${timeColumn} <= $${params.push(q.until)}`);
    if (!q.includeRewound) where.push('rewound_by IS NULL');
    const w = `WHERE ${where.join(' AND ')}`;
    const dir = q.order === 'desc' ? 'DESC' : 'ASC';
    const [page, count] = await Promise.all([
      this.pool.query(
        `SELECT ${select} FROM ${this.table} ${w} ORDER BY seq ${dir}
         LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
        [...params, q.limit, q.offset],
      ),
      this.pool.query<{ n: number }>(`SELECT COUNT(*)::int AS n FROM ${this.table} ${w}`, params),
    ]);
    return { rows: page.rows as R[], total: count.rows[0].n };
  }
}
