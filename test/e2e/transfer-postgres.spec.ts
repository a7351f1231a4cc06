import {
  appendFileSync,
  existsSync,
  readdirSync,
  readFileSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { createPostgresAdapters } from '../../src/adapters/postgres';
import { createSqliteAdapters } from '../../src/adapters/sqlite';
import { assertBuilt, cli } from '../helpers/cli';
import { describePg, freshDatabase } from '../helpers/postgres';
import { tempHome } from '../helpers/temp-home';

type Json = Record<string, any>;

/** Positions are store-specific (JSONL byte offsets vs entry indexes); everything else must match. */
const withoutPos = (entries: Json[]) => entries.map(({ pos: _p, line: _l, ...e }) => e);

describePg('export from a SQLite data home, import into Postgres (built binary)', () => {
  const home = tempHome('oct-xfer-');
  const dump = join(home.dir, 'home.dump');
  const sqliteEnv = { OPENCODE_HOME: home.dir, OPENCODE_SANDBOX_RUNTIME: 'memory' };
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let pgEnv: Record<string, string>;
  const run = (env: Record<string, string>, args: string[]) => {
    const r = cli([...args, '--json'], env);
    if (r.code !== 0) throw new Error(`${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as Json;
  };
  const ids: string[] = [];
  const cps: string[] = [];

  /** Everything the CLI shows about the store, for a before/after comparison. */
  function snapshot(env: Record<string, string>) {
    const out: Json = { tasks: run(env, ['list-tasks', '--order', 'asc']).items, per: {} };
    for (const id of ids) {
      out.per[id] = {
        status: run(env, ['task-status', id]),
        log: withoutPos(run(env, ['task-history', id]).entries),
        decisions: run(env, ['task-decisions', id]).items,
        executions: run(env, ['task-executions', id]).items,
        checkpoints: run(env, ['restore-checkpoint', id, '--list']).items,
      };
    }
    out.locks = run(env, ['locks']);
    return out;
  }

  beforeAll(async () => {
    assertBuilt();
    db = await freshDatabase();
    pgEnv = { ...sqliteEnv, OPENCODE_DATABASE_URL: db.url };
  });
  afterAll(async () => {
    await db.drop();
    home.cleanup();
  });

  let before: Json;

  it('builds a SQLite home through the CLI (state and executions through the adapters)', async () => {
    for (const [name, mode] of [
      ['alpha', 'exclusive'],
      ['beta', 'collaborative'],
      ['gamma', 'exclusive'],
    ]) {
      const t = run(sqliteEnv, [
        'create-task',
        name,
        '--mode',
        mode,
        '--metadata',
        `{"n":"${name}"}`,
      ]);
      ids.push(t.id);
    }
    const [a, b, c] = ids;
    run(sqliteEnv, ['resume-task', a]);
    run(sqliteEnv, ['record-decision', a, '--agent', 'claude', '--decision', 'pin node 20']);
    cps.push(run(sqliteEnv, ['checkpoint', a, '--description', 'first', '--quiet']).id);
    run(sqliteEnv, ['record-decision', a, '--agent', 'claude', '--decision', 'later, rewound']);
    cps.push(run(sqliteEnv, ['checkpoint', a, '--description', 'second', '--quiet']).id);
    // Rewinds the log line of the second checkpoint and the second decision (byte ranges in JSONL).
    run(sqliteEnv, ['restore-checkpoint', a, '--checkpoint', cps[0], '--quiet']);
    run(sqliteEnv, ['resume-task', b]);
    run(sqliteEnv, ['complete-task', b, '--message', 'done']);
    for (const agent of ['old', 'older']) {
      run(sqliteEnv, ['attach-agent', c, '--agent', agent]); // fencing tokens 1, 2 on task c
      run(sqliteEnv, ['detach', c, '--agent', agent]);
    }
    run(sqliteEnv, ['attach-agent', a, '--agent', 'claude', '--ttl', '1h']); // a live lease

    const s = await createSqliteAdapters({
      path: join(home.dir, 'opencode.db'),
      busyTimeoutMs: 5000,
      home: home.dir,
    });
    try {
      await s.state.put(a, { step: 1 }, 0, '2026-01-01T00:00:00.000Z');
      await s.state.put(a, { step: 2, text: 'naïve ✓' }, 1, '2026-01-02T00:00:00.000Z');
      for (const [i, exitCode] of [0, 1].entries()) {
        await s.executions.record({
          id: `exe_${i}`,
          taskId: a,
          agentId: 'claude',
          command: i ? 'npm test' : ['git', 'status'],
          startedAt: `2026-01-0${i + 1}T00:00:00.000Z`,
          durationMs: 12.5,
          exitCode,
          timedOut: false,
          truncated: !!i,
          stdoutBytes: 4,
          stderrBytes: 0,
          stdoutHead: 'ok\n',
          stdoutTail: '',
          stderrHead: '',
          stderrTail: '',
        });
      }
    } finally {
      await s.close();
    }
    before = snapshot(sqliteEnv);
    expect(before.per[a].log.some((e: Json) => e.rewoundBy === cps[0])).toBe(true);
    expect(before.per[a].decisions.map((d: Json) => d.seq)).toEqual([1, 2]);
    expect(before.locks).toHaveLength(1);
  }, 300_000); // ~40 CLI runs; slow on a loaded 2-core machine

  it('a Postgres process on the same home leaves the SQLite checkpoint directories alone', () => {
    const dir = join(home.dir, 'checkpoints', ids[0]);
    const old = new Date(Date.now() - 10 * 60_000);
    for (const d of readdirSync(dir)) utimesSync(join(dir, d), old, old); // past the sweep grace
    run(pgEnv, ['migrate']); // boots the Postgres family, whose sweep sees no checkpoint rows
    for (const id of cps) expect(existsSync(join(dir, id, 'manifest.json'))).toBe(true);
  });

  it('export writes the dump; import loads it; the CLI on Postgres shows the same store', async () => {
    const ex = run(sqliteEnv, ['export', '--out', dump]);
    expect(ex.counts).toEqual({
      tasks: 3,
      states: 1,
      logEntries:
        before.per[ids[0]].log.length +
        before.per[ids[1]].log.length +
        before.per[ids[2]].log.length,
      logRewinds: 1,
      decisions: 2,
      executions: 2,
      checkpoints: 2,
      locks: 1,
    });
    expect(ex.maxFencingToken).toBe(2);
    const im = run(pgEnv, ['import', dump]);
    expect(im.counts).toEqual(ex.counts);
    expect(im.target).toMatch(/^postgres:/);

    // A dump of the imported store reproduces the original, record for record.
    const again = join(home.dir, 'again.dump');
    run(pgEnv, ['export', '--out', again]);
    const body = (f: string) => readFileSync(f, 'utf8').split('\n').slice(1);
    expect(body(again)).toEqual(body(dump));

    const after = snapshot(pgEnv);
    // Checkpoint log positions changed unit (bytes → entry indexes); the rest is identical.
    const strip = (s: Json) => {
      const copy = structuredClone(s);
      for (const id of ids) for (const cp of copy.per[id].checkpoints) delete cp.logPosition;
      return copy;
    };
    expect(strip(after)).toEqual(strip(before));
    const [first, second] = after.per[ids[0]].checkpoints;
    const log = after.per[ids[0]].log as Json[];
    expect(log[first.logPosition - 1].message).toContain(`checkpoint ${cps[0]}`);
    expect(log[second.logPosition - 1].message).toContain(`checkpoint ${cps[1]}`);

    const p = await createPostgresAdapters({
      url: db.url,
      poolSize: 2,
      connectTimeoutMs: 5000,
      home: home.dir,
    });
    try {
      expect(await p.state.get(ids[0])).toEqual({
        taskId: ids[0],
        version: 2,
        data: { step: 2, text: 'naïve ✓' },
        updatedAt: '2026-01-02T00:00:00.000Z',
      });
    } finally {
      await p.close();
    }
  }, 300_000); // ~40 CLI runs; slow on a loaded 2-core machine

  it('after the import, sequences and tokens continue past the imported ones; restore uses indexes', () => {
    const [a, , c] = ids;
    expect(run(pgEnv, ['record-decision', a, '--agent', 'claude', '--decision', 'on pg']).seq).toBe(
      3,
    );
    const grant = run(pgEnv, ['attach-agent', c, '--agent', 'new']);
    expect(grant.token).toBeGreaterThan(2);
    run(pgEnv, ['restore-checkpoint', a, '--checkpoint', cps[1], '--agent', 'claude', '--quiet']);
    const log = run(pgEnv, ['task-history', a]).entries as Json[];
    const at = log.findIndex((e) => e.message.includes(`checkpoint ${cps[1]}`));
    // Entries after the second checkpoint (the first restore's line, …) are now rewound by it.
    expect(log.slice(at + 1, -1).every((e) => e.rewoundBy)).toBe(true);
    expect(log[at + 1].rewoundBy).toBe(cps[1]);
  });

  it('refuses a non-empty target, exit 4, and changes nothing', async () => {
    const r = cli(['import', dump], pgEnv);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/not empty \(3 tasks, .*--force/);
    expect(run(pgEnv, ['list-tasks']).total).toBe(3);
  });

  it('a truncated or bad dump exits 2 naming the line, and leaves the database empty', async () => {
    const fresh = await freshDatabase();
    const env = { ...sqliteEnv, OPENCODE_DATABASE_URL: fresh.url };
    try {
      const lines = readFileSync(dump, 'utf8').trimEnd().split('\n');
      const cut = join(home.dir, 'cut.dump');
      writeFileSync(cut, `${lines.slice(0, -1).join('\n')}\n`);
      let r = cli(['import', cut], env);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('truncated');

      const bad = join(home.dir, 'bad.dump');
      const task = JSON.parse(lines[1]);
      task.task.version = 0;
      writeFileSync(bad, [lines[0], JSON.stringify(task), ...lines.slice(2)].join('\n'));
      r = cli(['import', bad, '--json'], env);
      expect(r.code).toBe(2);
      expect(JSON.parse(r.stderr).error.message).toBe(
        'dump line 2, task.version: must be at least 1',
      );

      const c = new Client({ connectionString: fresh.url });
      await c.connect();
      try {
        for (const t of [
          'tasks',
          'task_logs',
          'decisions',
          'executions',
          'checkpoints',
          'lock_grants',
        ]) {
          expect((await c.query(`SELECT COUNT(*)::int AS n FROM ${t}`)).rows[0].n).toBe(0);
        }
      } finally {
        await c.end();
      }
    } finally {
      await fresh.drop();
    }
  });

  it('usage errors: import into SQLite (2), a missing dump (3), an existing or impossible --out (2)', () => {
    let r = cli(['import', dump], sqliteEnv);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('OPENCODE_DATABASE_URL');
    r = cli(['import', join(home.dir, 'nope.dump')], pgEnv);
    expect(r.code).toBe(3);
    r = cli(['export', '--out', dump], sqliteEnv);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('already exists');
    r = cli(['export', '--out', join(home.dir, 'no', 'such', 'dir.dump')], sqliteEnv);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--out: cannot create');
  });

  it('export --out - | import - moves the same store through a pipe', async () => {
    const fresh = await freshDatabase();
    try {
      const ex = cli(['export', '--out', '-', '--quiet'], sqliteEnv);
      expect(ex.code).toBe(0);
      expect(ex.stderr).toBe('');
      expect(ex.stdout.split('\n').slice(1)).toEqual(
        readFileSync(dump, 'utf8').split('\n').slice(1),
      );
      const env = { ...sqliteEnv, OPENCODE_DATABASE_URL: fresh.url };
      const im = cli(['import', '-', '--json'], env, ex.stdout);
      expect(im.code).toBe(0);
      expect(JSON.parse(im.stdout).counts.tasks).toBe(3);
      // --json would mix the summary into the dump on stdout.
      const r = cli(['export', '--out', '-', '--json'], sqliteEnv);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
    } finally {
      await fresh.drop();
    }
  });

  it('a corrupt log line stops the export unless --skip-corrupt', () => {
    const file = join(home.dir, 'logs', `${ids[1]}.jsonl`);
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, `${text}{not json\n`);
    appendFileSync(
      file,
      `${JSON.stringify({ ts: new Date().toISOString(), level: 'info', message: 'after' })}\n`,
    );
    let r = cli(['export', '--out', join(home.dir, 'c1.dump')], sqliteEnv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/corrupt line.*--skip-corrupt/);
    expect(existsSync(join(home.dir, 'c1.dump'))).toBe(false);
    r = cli(['export', '--out', join(home.dir, 'c2.dump'), '--skip-corrupt', '--json'], sqliteEnv);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).skippedCorruptLines).toBe(1);
    expect(r.stderr).toContain('left out 1 corrupt line');
  });
});
