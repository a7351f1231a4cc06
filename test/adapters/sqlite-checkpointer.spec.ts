import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  BACKSTOP_PAGES,
  startCheckpointer,
  type Checkpointer,
} from '../../src/adapters/sqlite/sqlite-checkpointer';

const until = async (cond: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('SQLite checkpoints on a worker thread (real SQLite file)', () => {
  let dir: string;
  let db: Database.Database;
  let cp: Checkpointer | undefined;
  const path = () => join(dir, 'db.sqlite');

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'oct-checkpoint-'));
    db = new Database(path());
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  });
  afterEach(async () => {
    await cp?.close();
    cp = undefined;
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const insert = (n: number) => {
    const s = db.prepare('INSERT INTO t (body) VALUES (?)');
    for (let i = 0; i < n; i++) s.run('x'.repeat(3000)); // about a page a row
  };

  it('copies the WAL back from its own connection while the main one only backstops', async () => {
    cp = startCheckpointer(db, path(), { busyTimeoutMs: 5000, delayMs: 0 });
    await until(() => cp!.running);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(BACKSTOP_PAGES);
    // 3,000 single-row commits: well past SQLite's own 1,000-page threshold, which the main
    // connection no longer acts on; the worker's checkpoints keep up.
    insert(3000);
    const pages = await cp!.checkpointNow();
    expect(pages).toBeGreaterThan(2000);
    // All of it is in the database file now: a checkpoint of the main connection finds nothing
    // left to copy (every frame of the WAL already checkpointed).
    const [r] = db.pragma('wal_checkpoint(PASSIVE)') as { log: number; checkpointed: number }[];
    expect(r!.checkpointed).toBe(r!.log);
    expect(statSync(path()).size).toBeGreaterThan(3000 * 3000);
    await cp!.close();
    expect(cp!.running).toBe(false);
    expect((db.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n).toBe(3000);
  });

  it('starts only after its delay (a short CLI call never starts a thread)', async () => {
    cp = startCheckpointer(db, path(), { busyTimeoutMs: 5000, delayMs: 60_000 });
    await new Promise((r) => setTimeout(r, 200));
    expect(cp!.running).toBe(false);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    await cp!.close(); // before it started: nothing to stop, no timer left behind
  });

  it('puts back checkpoints on commits when the worker cannot open the file', async () => {
    const errors: string[] = [];
    cp = startCheckpointer(db, join(dir, 'missing.sqlite'), {
      busyTimeoutMs: 5000,
      delayMs: 0,
      onError: (m) => errors.push(m),
    });
    await until(() => errors.length > 0);
    expect(errors[0]).toMatch(/checkpoint worker/);
    expect(cp!.running).toBe(false);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
  });

  it('has nothing to do for an in-memory database', () => {
    expect(startCheckpointer(db, ':memory:', { busyTimeoutMs: 5000 })).toBeUndefined();
  });
});
