import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tempHome } from '../helpers/temp-home';

const DIST = process.env.OCT_DIST ?? join(__dirname, '..', '..', 'dist');
const BIN = join(DIST, 'main.js');

describe('CLI: attach-agent, detach, heartbeat, locks', () => {
  const home = tempHome('oct-lock-cli-');
  const env = { PATH: process.env.PATH ?? '', HOME: home.dir, OPENCODE_HOME: home.dir };
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [BIN, ...args], {
      env,
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const runAsync = (...args: string[]) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const c = spawn(process.execPath, [BIN, ...args], { env });
      let out = '';
      let err = '';
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (err += d));
      c.on('close', (code) => resolve({ code, out, err }));
    });
  let task: string;

  beforeAll(() => {
    if (!existsSync(BIN)) throw new Error(`${BIN} missing: run "npm run build" first`);
    const created = run('create-task', 'cli-locks', '--json');
    expect(created.code).toBe(0);
    task = JSON.parse(created.out).id;
  });
  afterAll(() => home.cleanup());

  it('attaches, refuses a second agent with exit 4 naming the holder, and lists the lease', async () => {
    const a = run('attach-agent', '--task', task, '--agent', 'alpha', '--ttl', '6s', '--json');
    expect(a.code).toBe(0);
    const lease = JSON.parse(a.out);
    expect(lease).toMatchObject({ taskId: task, agentId: 'alpha', mode: 'exclusive', token: 1 });

    const b = run('attach-agent', '--task', task, '--agent', 'beta', '--json');
    expect(b.code).toBe(4);
    const err = JSON.parse(b.err.trim().split('\n').pop()!);
    expect(err.error.code).toBe('LOCK_HELD');
    expect(err.error.message).toContain(
      `held by 'alpha' (exclusive, token 1) until ${lease.expiresAt}`,
    );

    const listed = run('locks', '--json');
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.out)).toEqual([
      expect.objectContaining({ resource: `task:${task}`, holder: 'alpha', token: 1 }),
    ]);
    const human = run('locks');
    expect(human.out).toMatch(/RESOURCE\s+HOLDER\s+MODE\s+TOKEN/);

    const w = await runAsync(
      'attach-agent',
      '--task',
      task,
      '--agent',
      'gamma',
      '--wait',
      '20s',
      '--json',
    );
    expect(w.code).toBe(0);
    const got = JSON.parse(w.out);
    expect(got).toMatchObject({ agentId: 'gamma', token: 2 });
    expect(Date.parse(got.acquiredAt)).toBeGreaterThanOrEqual(Date.parse(lease.expiresAt));
  }, 60_000);

  it('heartbeat renews, actions need the lease, detach ends it', () => {
    const hb = run('heartbeat', '--task', task, '--agent', 'gamma', '--ttl', '1m', '--json');
    expect(hb.code).toBe(0);
    expect(JSON.parse(hb.out)).toMatchObject({ ttlMs: 60_000, token: 2 });
    const stale = run('resume-task', '--task', task, '--agent', 'alpha');
    expect(stale.code).toBe(4);
    expect(stale.err).toMatch(/agent 'alpha' does not hold task .* held by 'gamma'/);
    expect(run('task-status', task, '--json').out).toContain('"status": "pending"');
    expect(run('resume-task', '--task', task, '--agent', 'gamma').code).toBe(0);
    expect(run('detach', '--task', task, '--agent', 'gamma').code).toBe(0);
    const again = run('detach', '--task', task, '--agent', 'gamma');
    expect(again.code).toBe(4);
    expect(again.err).toMatch(/NOT_ATTACHED|does not hold/);
  }, 60_000);

  it('bad input exits 2 with a message naming the flag', () => {
    const ttl = run('attach-agent', '--task', task, '--agent', 'x', '--ttl', '48h');
    expect(ttl.code).toBe(2);
    expect(ttl.err).toContain('ttl: must be at most 24h');
    const neg = run('attach-agent', '--task', task, '--agent', 'x', '--ttl', '-5s');
    expect(neg.code).toBe(2);
    expect(neg.err).toContain('--ttl: invalid duration');
    const missing = run('attach-agent', '--task', task);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('agentId: is required; pass --agent <id>');
    const help = run('attach-agent', '--help');
    expect(help.code).toBe(0);
    expect(help.out).toContain('--wait <duration>');
    expect(help.out).toContain('opencode-tools attach-agent --task');
  }, 60_000);
});
