import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createSqliteAdapters, openSqlite } from '../../src/adapters/sqlite';
import { SQLITE_MIGRATIONS } from '../../src/adapters/sqlite/migrations';
import { cli, cliAsync, assertBuilt } from '../helpers/cli';
import { tempHome } from '../helpers/temp-home';

describe('opening the SQLite database', () => {
  const home = tempHome('oct-open-');
  afterAll(() => home.cleanup());

  it('migrates a new file, then reopens it on the fast path with WAL and the busy timeout', async () => {
    const path = join(home.dir, 'a.db');
    const first = await openSqlite({ path, busyTimeoutMs: 1234 });
    expect(first.applied).toEqual(SQLITE_MIGRATIONS.map((m) => m.name));
    await first.close();
    const again = await openSqlite({ path, busyTimeoutMs: 1234 });
    expect(again.applied).toEqual(first.applied);
    expect(again.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(again.db.pragma('busy_timeout', { simple: true })).toBe(1234);
    expect(again.db.pragma('synchronous', { simple: true })).toBe(1);
    await again.close();
  });

  it('refuses a database whose schema is newer than the code, naming the unknown migration', async () => {
    const path = join(home.dir, 'newer.db');
    await (await createSqliteAdapters({ path, busyTimeoutMs: 1000 })).close();
    const db = new Database(path);
    db.prepare('INSERT INTO migrations (timestamp, name) VALUES (?, ?)').run(
      9999999999999,
      'FromTheFuture9999999999999',
    );
    db.close();
    await expect(openSqlite({ path, busyTimeoutMs: 1000 })).rejects.toMatchObject({
      code: 'STORAGE_UNAVAILABLE',
      message: expect.stringContaining('FromTheFuture9999999999999'),
    });
  });

  it('a file holding tables of another program exits 5 with one error, nothing on stdout', () => {
    assertBuilt();
    const dir = join(home.dir, 'foreign');
    mkdirSync(dir);
    const db = new Database(join(dir, 'opencode.db'));
    db.exec('CREATE TABLE tasks (x)');
    db.close();
    const env = { OPENCODE_HOME: dir };
    // Before: six "Migration … failed" lines on stdout, Nest's stack trace on stderr, exit 1.
    const r = cli(['list-tasks', '--json'], env);
    expect(r.code).toBe(5);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      error: {
        code: 'STORAGE_UNAVAILABLE',
        message: expect.stringMatching(
          /cannot migrate SQLite database '.*opencode\.db' \(OPENCODE_DATABASE_URL \/ OPENCODE_HOME\): migration CreateTasks1764000000000: .*table tasks already exists; .*point OPENCODE_DATABASE_URL at a file of its own/,
        ),
        details: { path: join(dir, 'opencode.db'), migration: 'CreateTasks1764000000000' },
      },
      exitCode: 5,
    });
    const plain = cli(['list-tasks'], env);
    expect(plain.code).toBe(5);
    expect(plain.stdout).toBe('');
    expect(plain.stderr).toMatch(/^error: cannot migrate SQLite database .*\n$/);
    expect(plain.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('several processes starting on one fresh file at once all succeed (migration race)', async () => {
    assertBuilt();
    const env = { OPENCODE_HOME: join(home.dir, 'race') };
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => cliAsync(['create-task', `t${i}`, '--json'], env)),
    );
    for (const r of results) {
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      // stdout is the command's JSON only: no migration messages from a lost race.
      expect(JSON.parse(r.stdout).name).toMatch(/^t\d$/);
    }
    const list = await cliAsync(['list-tasks', '--json'], env);
    expect(JSON.parse(list.stdout).total).toBe(6);
  });
});
