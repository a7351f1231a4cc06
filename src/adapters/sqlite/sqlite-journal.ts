import type BetterSqlite3 from 'better-sqlite3';
import { ConflictError } from '../../domain/errors';

/** Statement cache and the seq-mark operations shared by the decision and execution journals. */
export class SqliteJournal {
  private readonly stmts = new Map<string, BetterSqlite3.Statement>();

  constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly table: 'decisions' | 'executions',
  ) {}

  stmt(sql: string): BetterSqlite3.Statement {
    let s = this.stmts.get(sql);
    if (!s) this.stmts.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  insert(sql: string, params: Record<string, unknown>, id: string, kind: string): number {
    try {
      return Number(this.stmt(sql).run(params).lastInsertRowid);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new ConflictError(`${kind} ${id} already exists`, { id });
      }
      throw err;
    }
  }

  mark(taskId: string): number {
    const r = this.stmt(`SELECT MAX(seq) AS m FROM ${this.table} WHERE task_id = ?`).get(
      taskId,
    ) as {
      m: number | null;
    };
    return r.m ?? 0;
  }

  markRewound(taskId: string, afterSeq: number, by: string): number {
    return this.stmt(
      `UPDATE ${this.table} SET rewound_by = ? WHERE task_id = ? AND seq > ? AND rewound_by IS NULL`,
    ).run(by, taskId, afterSeq).changes;
  }

  deleteForTask(taskId: string): number {
    return this.stmt(`DELETE FROM ${this.table} WHERE task_id = ?`).run(taskId).changes;
  }

  /** Runs a filtered, paged query: `where` and `params` are built by the caller. */
  page<R>(where: string[], params: unknown[], q: { limit: number; offset: number; order: string }) {
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const dir = q.order === 'desc' ? 'DESC' : 'ASC';
    const rows = this.stmt(
      `SELECT * FROM ${this.table} ${w} ORDER BY seq ${dir} LIMIT ? OFFSET ?`,
    ).all(...params, q.limit, q.offset) as R[];
    const { n } = this.stmt(`SELECT COUNT(*) AS n FROM ${this.table} ${w}`).get(...params) as {
      n: number;
    };
    return { rows, total: n };
  }
}

/** WHERE clauses common to both journals. */
export function journalFilters(
  q: { taskId: string; agentId?: string; since?: string; until?: string; includeRewound: boolean },
  timeColumn: string,
): { where: string[]; params: unknown[] } {
  const where = ['task_id = ?'];
  const params: unknown[] = [q.taskId];
  if (q.agentId) {
    where.push('agent_id = ?');
    params.push(q.agentId);
  }
  if (q.since) {
    where.push(`${timeColumn} >= ?`);
    params.push(new Date(q.since).toISOString());
  }
  if (q.until) {
    where.push(`${timeColumn} <= ?`);
    params.push(new Date(q.until).toISOString());
  }
  if (!q.includeRewound) where.push('rewound_by IS NULL');
  return { where, params };
}
