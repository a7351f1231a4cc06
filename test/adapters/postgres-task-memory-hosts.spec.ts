import { hostname } from 'node:os';
import { Client } from 'pg';
import { createPostgresAdapters } from '../../src/adapters/postgres';
import { ConflictError, ValidationError } from '../../src/domain/errors';
import { decisionQuerySchema, logQuerySchema, type LogEntry } from '../../src/domain/history';
import type { PersistenceAdapters } from '../../src/ports/persistence-adapters.port';
import { decision, execution } from '../contract/journal.contract';
import { describePg, freshDatabase } from '../helpers/postgres';
import { tempHome } from '../helpers/temp-home';

const LOG_MAX = 64 * 1024;
const q = (input: Record<string, unknown> = {}) => logQuerySchema.parse(input);
const entry = (message: string, data?: unknown): LogEntry => ({
  ts: '2026-01-01T00:00:00.000Z',
  level: 'info',
  message,
  ...(data === undefined ? {} : { data }),
});

/** Two orchestrator instances ("hosts") on one database, as in ARCHITECTURE §8. */
describePg('Postgres task memory shared by several instances', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let homes: ReturnType<typeof tempHome>[];
  let a: PersistenceAdapters;
  let b: PersistenceAdapters;
  const open = async () => {
    const home = tempHome();
    homes.push(home);
    return createPostgresAdapters({
      url: db.url,
      poolSize: 4,
      connectTimeoutMs: 5000,
      home: home.dir,
      persistence: { logMaxBytes: LOG_MAX },
    });
  };

  beforeEach(async () => {
    db = await freshDatabase();
    homes = [];
    a = await open();
    b = await open();
  });
  afterEach(async () => {
    await a.close();
    await b.close();
    await db.drop();
    for (const h of homes) h.cleanup();
  });

  it('interleaved writers of one log get dense positions in each writer’s order; any instance reads and follows', async () => {
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 60; i++) {
      a.logs.append('tsk_a', entry(`a${i}`));
      b.logs.append('tsk_a', entry(`b${i}`));
      if (i % 10 === 9) writes.push(a.logs.flush('tsk_a'), b.logs.flush('tsk_a'));
    }
    await Promise.all([...writes, a.logs.flush(), b.logs.flush()]);
    const all = await b.logs.read('tsk_a', q());
    expect(all.entries.map((e) => e.pos)).toEqual(Array.from({ length: 120 }, (_, i) => i));
    expect(all.entries.map((e) => e.line)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    for (const w of ['a', 'b']) {
      const mine = all.entries.filter((e) => e.message.startsWith(w)).map((e) => e.message);
      expect(mine).toEqual(Array.from({ length: 60 }, (_, i) => `${w}${i}`));
    }
    expect(await a.logs.end('tsk_a')).toBe(all.next);
    a.logs.append('tsk_a', entry('later'));
    await a.logs.flush();
    const more = await b.logs.read('tsk_a', { ...q(), from: all.next });
    expect(more.entries.map((e) => e.message)).toEqual(['later']);
  });

  it('enforces the per-task cap against entries written by other instances', async () => {
    const big = 'x'.repeat(Math.floor(LOG_MAX / 3));
    a.logs.append('tsk_a', entry(big));
    a.logs.append('tsk_a', entry(big));
    await a.logs.flush();
    b.logs.append('tsk_a', entry(big)); // b has not seen a's entries yet: the write refuses it
    const err = await b.logs.flush().catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toMatch(/1 entries of task tsk_a were not written.*cap/);
    expect((await b.logs.read('tsk_a', q())).entries).toHaveLength(2);
    // b now knows the size: the next append is refused at once.
    expect(() => b.logs.append('tsk_a', entry(big))).toThrow(/cap/);
  });

  it('keeps messages and data Postgres text cannot hold, and searches them', async () => {
    const odd = 'nul\u0000 and lone \ud800 surrogate';
    a.logs.append('tsk_a', entry(odd, { out: 'bin\u0000ary', pct: '100%_done' }));
    a.logs.append('tsk_a', entry('plain'));
    await a.logs.flush();
    const r = await b.logs.read('tsk_a', q());
    expect(r.entries[0].message).toBe(odd);
    expect(r.entries[0].data).toEqual({ out: 'bin\u0000ary', pct: '100%_done' });
    expect((await b.logs.read('tsk_a', q({ text: 'LONE' }))).entries).toHaveLength(1);
    expect((await b.logs.read('tsk_a', q({ text: '0%_D' }))).entries).toHaveLength(1);
    expect((await b.logs.read('tsk_a', q({ text: '%' }))).entries).toHaveLength(1);

    const exe = await a.executions.record(
      execution({ stdoutHead: 'ELF\u0000\u0001', stderrTail: 'é\u0000' }),
    );
    expect(await b.executions.get(exe.id)).toEqual(exe);
    const err = await a.decisions.append(decision({ reasoning: 'because\u0000' })).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toMatch(/NUL/);
  });

  it('fork copies a prefix with its rewound marks and shifts the child’s own entries and marks', async () => {
    for (let i = 0; i < 6; i++) a.logs.append('tsk_p', entry(`p${i}`));
    await a.logs.flush();
    await a.logs.markRewound('tsk_p', 1, 3, 'chk_old');
    await a.logs.markRewound('tsk_p', 2, 5, 'chk_later'); // overlaps: the first mark wins
    b.logs.append('tsk_c', entry('c0'));
    b.logs.append('tsk_c', entry('c1'));
    await b.logs.flush();
    await b.logs.markRewound('tsk_c', 1, 2, 'chk_child');
    await b.logs.copyPrefix('tsk_p', 'tsk_c', 4);
    const child = await a.logs.read('tsk_c', q());
    expect(child.entries.map((e) => [e.pos, e.message, e.rewoundBy])).toEqual([
      [0, 'p0', undefined],
      [1, 'p1', 'chk_old'],
      [2, 'p2', 'chk_old'],
      [3, 'p3', 'chk_later'],
      [4, 'c0', undefined],
      [5, 'c1', 'chk_child'],
    ]);
    expect(await b.logs.end('tsk_c')).toBe(6);
    const live = await a.logs.read('tsk_c', q({ includeRewound: false, tail: 10 }));
    expect(live.entries.map((e) => e.message)).toEqual(['p0', 'c0']);
  });

  it('journals: concurrent appends from two instances get unique seq, listed in seq order everywhere', async () => {
    const done = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? a : b).decisions.append(decision({ decision: `d${i}` })),
      ),
    );
    const seqs = done.map((d) => d.seq!).sort((x, y) => x - y);
    expect(new Set(seqs).size).toBe(20);
    const listed = await b.decisions.list(
      decisionQuerySchema.parse({ taskId: 'tsk_a', limit: 100 }),
    );
    expect(listed.items.map((d) => d.seq)).toEqual(seqs);
    expect(await a.decisions.mark('tsk_a')).toBe(seqs[19]);
    await expect(b.decisions.append(done[0])).rejects.toBeInstanceOf(ConflictError);
  });

  it('state: of writers on two instances at one version exactly one wins', async () => {
    await a.state.put('tsk_a', { n: 0 }, 0, '2026-01-01T00:00:00.000Z');
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? a : b).state.put('tsk_a', { n: i }, 1, '2026-01-01T00:00:00.000Z'),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((await b.state.get('tsk_a'))?.version).toBe(2);
  });

  it('checkpoints: sweep removes dead local creations and stale ones, leaves other hosts’ live ones', async () => {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      const insert = (id: string, owner: string, age: string) =>
        c.query(
          `INSERT INTO checkpoints (id, task_id, status, owner, created_at)
           VALUES ($1, 'tsk_a', 'creating', $2, now() - $3::interval)`,
          [id, owner, age],
        );
      await insert('chk_dead', `${hostname()}:2147483646`, '1 minute');
      await insert('chk_elsewhere', 'other-host:42', '1 minute');
      await insert('chk_stale', 'other-host:43', '25 hours');
      const mine = await a.checkpoints.begin({ id: 'chk_mine', taskId: 'tsk_a' });
      expect((await b.checkpoints.sweep()).sort()).toEqual(['chk_dead', 'chk_stale']);
      const { rows } = await c.query('SELECT id FROM checkpoints ORDER BY id');
      expect(rows.map((r) => r.id)).toEqual(['chk_elsewhere', 'chk_mine']);
      expect(mine.artifactsDir).toBeDefined();
    } finally {
      await c.end();
    }
  });

  it('close() writes what is queued before releasing the pool', async () => {
    a.logs.append('tsk_a', entry('last words'));
    await a.close();
    expect((await b.logs.read('tsk_a', q())).entries.map((e) => e.message)).toEqual(['last words']);
    a = await open(); // afterEach closes it again
  });
});
