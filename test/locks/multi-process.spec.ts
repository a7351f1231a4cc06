import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createSqliteAdapters } from '../../src/adapters/sqlite';
import { DomainError } from '../../src/domain/errors';
import type { TaskMode } from '../../src/domain/task';
import { AgentAttachmentService } from '../../src/modules/locks/agent-attachment.service';
import { LockManager } from '../../src/modules/locks/lock-manager.service';
import { systemClock } from '../../src/ports/clock.port';
import type { PersistenceAdapters } from '../../src/ports/persistence-adapters.port';
import { makeTask } from '../helpers/task-factory';
import { tempHome } from '../helpers/temp-home';

const DIST = process.env.OCT_DIST ?? join(__dirname, '..', '..', 'dist');
const WORKER = join(__dirname, 'fixtures', 'lock-worker.js');
const N = 16;

interface Reply {
  id?: number;
  ok?: any;
  error?: string;
  message?: string;
  ready?: string;
  pid?: number;
}

/** One agent process, driven by JSON lines; replies come back in order. */
class Agent {
  readonly proc: ChildProcessWithoutNullStreams;
  private readonly waiting: ((r: Reply) => void)[] = [];
  private seq = 0;
  stderr = '';
  readonly ready: Promise<Reply>;

  constructor(
    db: string,
    readonly name: string,
  ) {
    this.proc = spawn(process.execPath, [WORKER, db, name], {
      env: { ...process.env, OCT_DIST: DIST },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.proc.stderr.on('data', (c) => (this.stderr += c));
    this.ready = new Promise((resolve) => this.waiting.push(resolve));
    createInterface({ input: this.proc.stdout }).on('line', (line) => {
      this.waiting.shift()?.(JSON.parse(line));
    });
    this.proc.on('exit', (code, signal) => {
      const message = `${this.name} exited (${signal ?? code}): ${this.stderr}`;
      for (const w of this.waiting.splice(0)) w({ error: 'EXITED', message });
    });
  }

  send(op: string, args: Record<string, unknown> = {}): Promise<Reply> {
    const id = ++this.seq;
    const reply = new Promise<Reply>((resolve) => this.waiting.push(resolve));
    this.proc.stdin.write(`${JSON.stringify({ id, op, ...args })}\n`);
    return reply;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('locks across OS processes (SQLite file, built code)', () => {
  const home = tempHome('oct-locks-');
  const db = join(home.dir, 'opencode.db');
  let adapters: PersistenceAdapters;
  let attachments: AgentAttachmentService;
  let agents: Agent[] = [];

  const task = async (mode: TaskMode) => {
    const t = makeTask({ mode, status: 'running' });
    await adapters.tasks.insert(t);
    return t;
  };

  beforeAll(async () => {
    if (!existsSync(join(DIST, 'modules', 'locks', 'lock-manager.service.js'))) {
      throw new Error(`${DIST} has no lock manager: run "npm run build" first (npm test does)`);
    }
    // Create and migrate the file once, so the agents do not race to migrate it.
    adapters = await createSqliteAdapters({ path: db, busyTimeoutMs: 10_000 });
    attachments = new AgentAttachmentService(
      new LockManager(adapters.locks, systemClock),
      adapters.tasks,
    );
    agents = Array.from({ length: N }, (_, i) => new Agent(db, `agent-${i}`));
    const ready = await Promise.all(agents.map((a) => a.ready));
    expect(ready.map((r) => r.ready)).toEqual(agents.map((a) => a.name));
  }, 60_000);

  afterAll(async () => {
    for (const a of agents) {
      if (a.proc.exitCode === null && a.proc.signalCode === null) a.proc.kill('SIGKILL');
    }
    await adapters.close();
    home.cleanup();
  });

  it(`${N} processes racing for one exclusive task: one holder at any instant`, async () => {
    const t = await task('exclusive');
    const sentinel = join(home.dir, 'holder.sentinel');
    const replies = await Promise.all(
      agents.map((a) => a.send('race', { taskId: t.id, ms: 1500, ttlMs: 5000, sentinel })),
    );
    for (const r of replies) {
      expect(r.error).toBeUndefined();
      expect(r.ok.violations).toBe(0);
      expect(r.ok.errors).toEqual([]);
    }
    const holds = replies
      .flatMap((r) => r.ok.holds as { agent: string; token: number; start: number; end: number }[])
      .sort((a, b) => a.token - b.token);
    // Every grant is accounted for: tokens 1..n, none lost, none issued twice.
    expect(holds.map((h) => h.token)).toEqual(holds.map((_, i) => i + 1));
    // Grants in token order are also in time order, and never overlap.
    for (let i = 1; i < holds.length; i++) {
      expect(holds[i - 1].end).toBeLessThanOrEqual(holds[i].start);
    }
    if (process.env.OCT_VERBOSE) {
      const agentsHeld = new Set(holds.map((h) => h.agent)).size;
      const refused = replies.reduce((n, r) => n + r.ok.refused, 0);
      console.log(`${holds.length} holds by ${agentsHeld} processes, ${refused} timed-out waits`);
    }
    // the lock really changed hands between processes (counts stay modest on a loaded machine)
    expect(holds.length).toBeGreaterThanOrEqual(10);
    expect(new Set(holds.map((h) => h.agent)).size).toBeGreaterThanOrEqual(4);
    expect(await attachments.list({ taskId: t.id })).toEqual([]);
  }, 60_000);

  it(`collaborative mode admits all ${N} processes at once`, async () => {
    const t = await task('collaborative');
    const replies = await Promise.all(
      agents.map((a) => a.send('attach', { taskId: t.id, ttlMs: 30_000 })),
    );
    expect(replies.filter((r) => r.error)).toEqual([]);
    const live = await attachments.list({ taskId: t.id });
    expect(live.length).toBe(N);
    expect(live.map((a) => a.token).sort((a, b) => a - b)).toEqual(
      Array.from({ length: N }, (_, i) => i + 1),
    );
  }, 30_000);

  it('four processes writing the same version at once: exactly one wins', async () => {
    const t = await task('exclusive');
    const at = Date.now() + 300;
    const replies = await Promise.all(
      agents.slice(0, 4).map((a) => a.send('write', { taskId: t.id, version: t.version, at })),
    );
    expect(replies.filter((r) => r.ok).length).toBe(1);
    expect(replies.filter((r) => r.error === 'CONFLICT').length).toBe(3);
    expect((await adapters.tasks.findById(t.id))!.version).toBe(t.version + 1);
  }, 30_000);

  it('a holder paused (SIGSTOP) past its TTL, superseded, then resumed: its write is rejected', async () => {
    const t = await task('exclusive');
    const sleeper = agents[N - 2];
    const attached = await sleeper.send('attach', { taskId: t.id, ttlMs: 1500 });
    expect(attached.ok.token).toBe(1);
    sleeper.proc.kill('SIGSTOP');
    let late: Promise<Reply>;
    try {
      await expect(attachments.attach(t.id, 'newcomer')).rejects.toMatchObject({
        code: 'LOCK_HELD',
      });
      const expiresAt = Date.parse(attached.ok.expiresAt);
      await sleep(expiresAt - Date.now() + 50);
      const taken = await attachments.attach(t.id, 'newcomer', { ttlMs: 30_000 });
      expect(taken.token).toBe(2);
      // The paused process's next write is queued now and runs the moment it resumes.
      late = sleeper.send('complete', { taskId: t.id });
    } finally {
      sleeper.proc.kill('SIGCONT');
    }
    const refused = await late;
    expect(refused.error).toBe('LOCK_HELD');
    expect(refused.message).toMatch(
      new RegExp(
        `agent '${sleeper.name}' does not hold task ${t.id}.*held by 'newcomer' \\(exclusive, token 2\\)`,
      ),
    );
    const after = await adapters.tasks.findById(t.id);
    expect(after).toMatchObject({ status: 'running', version: t.version });
  }, 30_000);

  it('a holder killed with SIGKILL: its lease expires after the TTL and the next agent gets the task', async () => {
    const t = await task('exclusive');
    const victim = agents[N - 1];
    const attached = await victim.send('attach', { taskId: t.id, ttlMs: 2000 });
    victim.proc.kill('SIGKILL');
    await new Promise((r) => victim.proc.once('exit', r));
    const held = await attachments.attach(t.id, 'heir').catch((e: DomainError) => e);
    expect(held).toBeInstanceOf(DomainError);
    expect((held as DomainError).code).toBe('LOCK_HELD');
    expect((held as DomainError).message).toContain(
      `'${victim.name}' (exclusive, token 1) until ${attached.ok.expiresAt}`,
    );
    const got = await attachments.attach(t.id, 'heir', { waitMs: 5000 });
    expect(got.token).toBe(2);
    expect(Date.parse(got.acquiredAt)).toBeGreaterThanOrEqual(Date.parse(attached.ok.expiresAt));
    expect(Date.parse(got.acquiredAt) - Date.parse(attached.ok.expiresAt)).toBeLessThan(2000);
  }, 30_000);
});
