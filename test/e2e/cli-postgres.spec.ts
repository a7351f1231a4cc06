import { createServer } from 'node:net';
import { Client } from 'pg';
import { assertBuilt, cli, cliAsync } from '../helpers/cli';
import { describePg, freshDatabase } from '../helpers/postgres';
import { tempHome } from '../helpers/temp-home';

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describePg('CLI on Postgres (OPENCODE_DATABASE_URL=postgres://…)', () => {
  const home = tempHome('oct-clipg-');
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let env: Record<string, string>;
  const json = (args: string[]) => {
    const r = cli([...args, '--json'], env);
    if (r.code !== 0) throw new Error(`${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };

  beforeAll(async () => {
    assertBuilt();
    db = await freshDatabase();
    env = { OPENCODE_HOME: home.dir, OPENCODE_DATABASE_URL: db.url };
  });
  afterAll(async () => {
    await db.drop();
    home.cleanup();
  });

  it('migrates on first use and runs the lifecycle from separate processes', async () => {
    const m = json(['migrate']);
    expect(m.database).toMatch(/^postgres:postgres:\/\/postgres@127\.0\.0\.1:\d+\/oct_/);
    expect(m.migrations).toContain('CreateTasks1764000000000');
    // Several processes create at once: every task is visible from every process.
    const made = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        cliAsync(['create-task', `pg ${i}`, '--owner', 'pg', '--json'], env),
      ),
    );
    for (const r of made) expect(r.code).toBe(0);
    const ids = made.map((r) => JSON.parse(r.stdout).id);
    expect(json(['list-tasks', '--owner', 'pg']).total).toBe(5);
    json(['resume-task', ids[0]]);
    // Two processes completing with the same version: exactly one wins.
    const race = await Promise.all(
      [1, 2].map(() =>
        cliAsync(['complete-task', ids[0], '--expected-version', '2', '--json'], env),
      ),
    );
    expect(race.map((r) => r.code).sort()).toEqual([0, 4]);
    expect(json(['task-stats']).byStatus).toMatchObject({ completed: 1, pending: 4 });
    expect(json(['find-task', 'PG 3']).items.map((t: { id: string }) => t.id)).toEqual([ids[3]]);
  });

  it('an unreachable server exits 5 at once, naming the host and hiding the password', async () => {
    const port = await closedPort();
    const r = cli(['list-tasks'], {
      OPENCODE_HOME: home.dir,
      OPENCODE_DATABASE_URL: `postgres://agent:s3cret@127.0.0.1:${port}/agents`,
    });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`127.0.0.1:${port}`);
    expect(r.stderr).toContain('OPENCODE_DATABASE_URL');
    expect(r.stderr).not.toContain('s3cret');
    expect(r.stderr).not.toContain('ExceptionHandler'); // reported once, not also as a stack trace
    expect(r.stderr).toMatch(/^error: cannot connect to Postgres .*\n$/);
    expect(r.ms).toBeLessThan(15_000);
  });

  it('a database holding tables of another program exits 5 with one error, nothing on stdout', async () => {
    const other = await freshDatabase();
    try {
      const c = new Client({ connectionString: other.url });
      await c.connect();
      await c.query('CREATE TABLE tasks (x int)').finally(() => c.end());
      const r = cli(['list-tasks', '--json'], {
        OPENCODE_HOME: home.dir,
        OPENCODE_DATABASE_URL: other.url,
      });
      expect(r.code).toBe(5);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!).error).toMatchObject({
        code: 'STORAGE_UNAVAILABLE',
        message: expect.stringMatching(
          /^cannot migrate Postgres database postgres:\/\/.*\(OPENCODE_DATABASE_URL\): migration CreateTasks1764000000000: .*"tasks" already exists; .*database of its own$/,
        ),
      });
    } finally {
      await other.drop();
    }
  });

  it('a database that does not exist exits 5 naming it', () => {
    const r = cli(['list-tasks'], {
      OPENCODE_HOME: home.dir,
      OPENCODE_DATABASE_URL: db.url.replace(/\/[^/]+$/, '/no_such_db'),
    });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('no_such_db');
  });
});
