import type BetterSqlite3 from 'better-sqlite3';
import { serializeState, stateConflict, type StateDoc } from '../../domain/history';
import { DEFAULT_STATE_MAX_BYTES, type StateStore } from '../../ports/state-store.port';

interface Row {
  task_id: string;
  version: number;
  data: string;
  updated_at: string;
}

const toDoc = (r: Row): StateDoc => ({
  taskId: r.task_id,
  version: r.version,
  data: JSON.parse(r.data),
  updatedAt: r.updated_at,
});

/**
 * State documents in SQLite: a write is one statement (atomic, durable at commit), conditional on
 * the version the writer read, so two writers can never both win.
 */
export class SqliteStateStore implements StateStore {
  private readonly getStmt: BetterSqlite3.Statement;
  private readonly insertStmt: BetterSqlite3.Statement;
  private readonly updateStmt: BetterSqlite3.Statement;
  private readonly deleteStmt: BetterSqlite3.Statement;

  constructor(
    db: BetterSqlite3.Database,
    private readonly maxBytes = DEFAULT_STATE_MAX_BYTES,
  ) {
    this.getStmt = db.prepare('SELECT * FROM task_state WHERE task_id = ?');
    this.insertStmt = db.prepare(
      `INSERT INTO task_state (task_id, version, data, updated_at) VALUES (?, 1, ?, ?)
       ON CONFLICT (task_id) DO NOTHING RETURNING *`,
    );
    this.updateStmt = db.prepare(
      `UPDATE task_state SET version = version + 1, data = ?, updated_at = ?
       WHERE task_id = ? AND version = ? RETURNING *`,
    );
    this.deleteStmt = db.prepare('DELETE FROM task_state WHERE task_id = ?');
  }

  async get(taskId: string): Promise<StateDoc | null> {
    const r = this.getStmt.get(taskId) as Row | undefined;
    return r ? toDoc(r) : null;
  }

  async put(
    taskId: string,
    data: Record<string, unknown>,
    expectedVersion: number,
    updatedAt: string,
  ): Promise<StateDoc> {
    const text = serializeState(taskId, data, this.maxBytes);
    const row = (
      expectedVersion === 0
        ? this.insertStmt.get(taskId, text, updatedAt)
        : this.updateStmt.get(text, updatedAt, taskId, expectedVersion)
    ) as Row | undefined;
    if (row) return toDoc(row);
    const current = (this.getStmt.get(taskId) as Row | undefined)?.version ?? 0;
    throw stateConflict(taskId, expectedVersion, current);
  }

  async delete(taskId: string): Promise<boolean> {
    return this.deleteStmt.run(taskId).changes > 0;
  }
}
