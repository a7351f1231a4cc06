import type BetterSqlite3 from 'better-sqlite3';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { ownerAlive, processOwner } from '../../domain/process-owner';
import { join } from 'node:path';
import { NotFoundError, ValidationError } from '../../domain/errors';
import type { Checkpoint } from '../../domain/history';
import type { CheckpointStore, PendingCheckpoint } from '../../ports/checkpoint-store.port';
import { fsyncDir, writeFileAtomic } from '../jsonl/atomic-file';

/** A directory with no row is left alone this long: its creator may be between two steps. */
export const ORPHAN_GRACE_MS = 60_000;
/** A creation older than this is swept even if its process seems alive (pid reuse). */
export const STALE_CREATION_MS = 24 * 3600 * 1000;

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,199}$/;

interface Row {
  id: string;
  task_id: string;
  status: 'creating' | 'ready';
  owner: string;
  created_at: string;
  body: string | null;
}

/**
 * Checkpoint records in SQLite, artifacts (snapshot archives, a `manifest.json`) under
 * `<root>/<taskId>/<checkpointId>/`. Two-phase: `begin` inserts a `creating` row owned by this
 * process and a private `.<id>.tmp` directory; `commit` fsyncs and renames the directory into place,
 * then flips the row to `ready` in one statement — the moment the checkpoint becomes visible.
 * `sweep` removes `creating` rows of dead processes, their directories, and temp directories with
 * no row (committed directories with no row are left: another database may share the data home).
 */
export class SqliteCheckpointStore implements CheckpointStore {
  private readonly stmts = new Map<string, BetterSqlite3.Statement>();
  private readonly owner = processOwner();

  constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly root: string,
  ) {}

  private stmt(sql: string): BetterSqlite3.Statement {
    let s = this.stmts.get(sql);
    if (!s) this.stmts.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  private taskDir(taskId: string): string {
    if (!SAFE_ID.test(taskId))
      throw new ValidationError('taskId', `'${taskId}' is not a valid task id`);
    return join(this.root, taskId);
  }

  private dirs(taskId: string, id: string): { tmp: string; final: string } {
    if (!SAFE_ID.test(id))
      throw new ValidationError('checkpointId', `'${id}' is not a valid checkpoint id`);
    const base = this.taskDir(taskId);
    return { tmp: join(base, `.${id}.tmp`), final: join(base, id) };
  }

  async begin(draft: { id: string; taskId: string }): Promise<PendingCheckpoint> {
    const { tmp } = this.dirs(draft.taskId, draft.id);
    this.stmt(
      `INSERT INTO checkpoints (id, task_id, status, owner, created_at) VALUES (?, ?, 'creating', ?, ?)`,
    ).run(draft.id, draft.taskId, this.owner, new Date().toISOString());
    mkdirSync(tmp, { recursive: true, mode: 0o700 });
    return { id: draft.id, taskId: draft.taskId, artifactsDir: tmp };
  }

  async commit(cp: Checkpoint): Promise<Checkpoint> {
    const row = this.stmt(`SELECT * FROM checkpoints WHERE id = ?`).get(cp.id) as Row | undefined;
    if (!row || row.status !== 'creating') throw new NotFoundError('pending checkpoint', cp.id);
    const { tmp, final } = this.dirs(cp.taskId, cp.id);
    const body = JSON.stringify(cp);
    writeFileAtomic(join(tmp, 'manifest.json'), body);
    renameSync(tmp, final);
    fsyncDir(this.taskDir(cp.taskId));
    const done = this.stmt(
      `UPDATE checkpoints SET status = 'ready', body = ? WHERE id = ? AND status = 'creating'`,
    ).run(body, cp.id);
    if (done.changes === 0) {
      rmSync(final, { recursive: true, force: true });
      throw new NotFoundError('pending checkpoint', cp.id);
    }
    return structuredClone(cp);
  }

  async abort(id: string): Promise<void> {
    const row = this.stmt(`SELECT * FROM checkpoints WHERE id = ?`).get(id) as Row | undefined;
    if (!row || row.status !== 'creating') return;
    this.stmt(`DELETE FROM checkpoints WHERE id = ?`).run(id);
    this.removeDirs(row.task_id, id);
  }

  private removeDirs(taskId: string, id: string): void {
    const { tmp, final } = this.dirs(taskId, id);
    rmSync(tmp, { recursive: true, force: true });
    rmSync(final, { recursive: true, force: true });
  }

  async get(id: string): Promise<Checkpoint | null> {
    const r = this.stmt(`SELECT body FROM checkpoints WHERE id = ? AND status = 'ready'`).get(
      id,
    ) as { body: string } | undefined;
    return r ? (JSON.parse(r.body) as Checkpoint) : null;
  }

  async list(taskId: string): Promise<Checkpoint[]> {
    const rows = this.stmt(
      `SELECT body FROM checkpoints WHERE task_id = ? AND status = 'ready' ORDER BY id`,
    ).all(taskId) as { body: string }[];
    return rows.map((r) => JSON.parse(r.body) as Checkpoint);
  }

  artifactsDir(cp: Checkpoint): string | undefined {
    return this.dirs(cp.taskId, cp.id).final;
  }

  async delete(id: string): Promise<Checkpoint> {
    const cp = await this.get(id);
    if (!cp) throw new NotFoundError('checkpoint', id);
    this.stmt(`DELETE FROM checkpoints WHERE id = ?`).run(id);
    this.removeDirs(cp.taskId, id);
    return cp;
  }

  async deleteForTask(taskId: string): Promise<Checkpoint[]> {
    const gone = await this.list(taskId);
    this.stmt(`DELETE FROM checkpoints WHERE task_id = ?`).run(taskId);
    rmSync(this.taskDir(taskId), { recursive: true, force: true });
    return gone;
  }

  async sweep(): Promise<string[]> {
    const removed: string[] = [];
    const staleBefore = new Date(Date.now() - STALE_CREATION_MS).toISOString();
    const creating = this.stmt(
      `SELECT * FROM checkpoints WHERE status = 'creating'`,
    ).all() as Row[];
    for (const r of creating) {
      if (ownerAlive(r.owner) && r.created_at > staleBefore) continue;
      this.stmt(`DELETE FROM checkpoints WHERE id = ? AND status = 'creating'`).run(r.id);
      if (SAFE_ID.test(r.task_id) && SAFE_ID.test(r.id)) this.removeDirs(r.task_id, r.id);
      removed.push(r.id);
    }
    // Temp directories no row claims: a creation whose row was swept above.
    if (!existsSync(this.root)) return removed;
    const known = this.stmt(`SELECT id FROM checkpoints WHERE task_id = ?`);
    for (const taskId of readdirSync(this.root)) {
      const dir = join(this.root, taskId);
      const ids = new Set((known.all(taskId) as { id: string }[]).map((r) => r.id));
      let left = 0;
      for (const name of readdirSync(dir)) {
        const temp = name.startsWith('.') && name.endsWith('.tmp');
        const id = temp ? name.slice(1, -4) : name;
        const young = Date.now() - statSync(join(dir, name)).mtimeMs < ORPHAN_GRACE_MS;
        // A committed directory no row claims may belong to another database sharing this data
        // home (a SQLite file and a Postgres database during `export`/`import`): never reap it.
        if (ids.has(id) || young || !temp) {
          left++;
          continue;
        }
        rmSync(join(dir, name), { recursive: true, force: true });
        if (!removed.includes(id)) removed.push(id);
      }
      if (!left) rmSync(dir, { recursive: true, force: true });
    }
    return removed;
  }
}
