import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { ownerAlive, processOwner } from '../../domain/process-owner';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { ConflictError, NotFoundError, ValidationError } from '../../domain/errors';
import type { Checkpoint } from '../../domain/history';
import type { CheckpointStore, PendingCheckpoint } from '../../ports/checkpoint-store.port';
import { fsyncDir, writeFileAtomic } from '../jsonl/atomic-file';
import { ORPHAN_GRACE_MS, STALE_CREATION_MS } from '../sqlite/sqlite-checkpoint.store';
import { pgCode, UNIQUE_VIOLATION } from './postgres-tx';

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,199}$/;

interface Row {
  id: string;
  task_id: string;
  status: 'creating' | 'ready';
  owner: string;
  created_at: Date;
}

/**
 * Checkpoint records in Postgres (visible from every host); artifacts (snapshot archives, a
 * `manifest.json`) stay on the creating host's disk under `<root>/<taskId>/<checkpointId>/`, as
 * with SQLite. Two-phase: `begin` inserts a `creating` row owned by `host:pid` and a private
 * `.<id>.tmp` directory; `commit` fsyncs and renames the directory into place, then flips the row
 * to `ready` in one conditional UPDATE, the moment the checkpoint becomes visible everywhere.
 * `sweep` removes this host's dead creations (and any creation older than a day) and local temp
 * directories no row claims (committed ones are left: another database may share the data home).
 */
export class PostgresCheckpointStore implements CheckpointStore {
  private readonly owner = processOwner();

  constructor(
    private readonly pool: Pool,
    private readonly root: string,
  ) {}

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

  private removeDirs(taskId: string, id: string): void {
    const { tmp, final } = this.dirs(taskId, id);
    rmSync(tmp, { recursive: true, force: true });
    rmSync(final, { recursive: true, force: true });
  }

  private async row(id: string): Promise<Row | undefined> {
    const { rows } = await this.pool.query<Row>(
      'SELECT id, task_id, status, owner, created_at FROM checkpoints WHERE id = $1',
      [id],
    );
    return rows[0];
  }

  async begin(draft: { id: string; taskId: string }): Promise<PendingCheckpoint> {
    const { tmp } = this.dirs(draft.taskId, draft.id);
    try {
      await this.pool.query(
        `INSERT INTO checkpoints (id, task_id, status, owner, created_at)
         VALUES ($1, $2, 'creating', $3, now())`,
        [draft.id, draft.taskId, this.owner],
      );
    } catch (err) {
      if (pgCode(err) === UNIQUE_VIOLATION) {
        throw new ConflictError(`checkpoint ${draft.id} already exists`, { id: draft.id });
      }
      throw err;
    }
    mkdirSync(tmp, { recursive: true, mode: 0o700 });
    return { id: draft.id, taskId: draft.taskId, artifactsDir: tmp };
  }

  async commit(cp: Checkpoint): Promise<Checkpoint> {
    const row = await this.row(cp.id);
    if (!row || row.status !== 'creating') throw new NotFoundError('pending checkpoint', cp.id);
    const { tmp, final } = this.dirs(cp.taskId, cp.id);
    const body = JSON.stringify(cp);
    writeFileAtomic(join(tmp, 'manifest.json'), body);
    renameSync(tmp, final);
    fsyncDir(this.taskDir(cp.taskId));
    const done = await this.pool.query(
      `UPDATE checkpoints SET status = 'ready', body = $2 WHERE id = $1 AND status = 'creating'`,
      [cp.id, body],
    );
    if (!done.rowCount) {
      rmSync(final, { recursive: true, force: true });
      throw new NotFoundError('pending checkpoint', cp.id);
    }
    return structuredClone(cp);
  }

  async abort(id: string): Promise<void> {
    const { rows } = await this.pool.query<{ task_id: string }>(
      `DELETE FROM checkpoints WHERE id = $1 AND status = 'creating' RETURNING task_id`,
      [id],
    );
    if (rows[0]) this.removeDirs(rows[0].task_id, id);
  }

  async get(id: string): Promise<Checkpoint | null> {
    const { rows } = await this.pool.query<{ body: string }>(
      `SELECT body::text AS body FROM checkpoints WHERE id = $1 AND status = 'ready'`,
      [id],
    );
    return rows[0] ? (JSON.parse(rows[0].body) as Checkpoint) : null;
  }

  async list(taskId: string): Promise<Checkpoint[]> {
    const { rows } = await this.pool.query<{ body: string }>(
      `SELECT body::text AS body FROM checkpoints WHERE task_id = $1 AND status = 'ready'
       ORDER BY id COLLATE "C"`,
      [taskId],
    );
    return rows.map((r) => JSON.parse(r.body) as Checkpoint);
  }

  artifactsDir(cp: Checkpoint): string | undefined {
    return this.dirs(cp.taskId, cp.id).final;
  }

  async delete(id: string): Promise<Checkpoint> {
    const { rows } = await this.pool.query<{ body: string }>(
      `DELETE FROM checkpoints WHERE id = $1 AND status = 'ready' RETURNING body::text AS body`,
      [id],
    );
    if (!rows[0]) throw new NotFoundError('checkpoint', id);
    const cp = JSON.parse(rows[0].body) as Checkpoint;
    this.removeDirs(cp.taskId, id);
    return cp;
  }

  async deleteForTask(taskId: string): Promise<Checkpoint[]> {
    const dir = this.taskDir(taskId);
    const { rows } = await this.pool.query<{ id: string; body: string | null }>(
      `DELETE FROM checkpoints WHERE task_id = $1 RETURNING id, body::text AS body`,
      [taskId],
    );
    rmSync(dir, { recursive: true, force: true });
    return rows
      .filter((r) => r.body !== null)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((r) => JSON.parse(r.body!) as Checkpoint);
  }

  async sweep(): Promise<string[]> {
    const removed: string[] = [];
    const staleBefore = Date.now() - STALE_CREATION_MS;
    const { rows: creating } = await this.pool.query<Row>(
      `SELECT id, task_id, status, owner, created_at FROM checkpoints WHERE status = 'creating'`,
    );
    for (const r of creating) {
      if (ownerAlive(r.owner) && r.created_at.getTime() > staleBefore) continue;
      const gone = await this.pool.query(
        `DELETE FROM checkpoints WHERE id = $1 AND status = 'creating'`,
        [r.id],
      );
      if (!gone.rowCount) continue; // committed or swept by someone else meanwhile
      if (SAFE_ID.test(r.task_id) && SAFE_ID.test(r.id)) this.removeDirs(r.task_id, r.id);
      removed.push(r.id);
    }
    // Temp directories no row claims: a creation whose row was swept (here or by another host).
    if (!existsSync(this.root)) return removed;
    for (const taskId of readdirSync(this.root)) {
      const dir = join(this.root, taskId);
      const { rows } = await this.pool.query<{ id: string }>(
        'SELECT id FROM checkpoints WHERE task_id = $1',
        [taskId],
      );
      const ids = new Set(rows.map((r) => r.id));
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
