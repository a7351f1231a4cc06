import { spawn, type ChildProcess } from 'node:child_process';
import { assertBuilt, BIN, cli } from '../helpers/cli';
import { tempHome } from '../helpers/temp-home';
import { parseStrict, valueOf } from './prom-text';

const TOKEN = 'cli-serve-token-0123456789';

describe('CLI health and metrics', () => {
  let home: ReturnType<typeof tempHome>;
  let env: Record<string, string>;
  beforeAll(() => {
    assertBuilt();
    home = tempHome('oct-health-');
    env = { OPENCODE_HOME: home.dir, OPENCODE_SANDBOX_RUNTIME: 'memory' };
  });
  afterAll(() => home.cleanup());

  it('health: exit 0 and one JSON document when everything answers', () => {
    const r = cli(['health', '--json'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.status).toBe('ok');
    expect(report.checks.engine).toMatchObject({ status: 'ok', runtime: 'memory' });
    expect(report.checks.database).toMatchObject({ status: 'ok', driver: 'sqlite', tasks: 0 });
    expect(report.checks.disk.freeBytes).toBeGreaterThan(0);
    const human = cli(['health'], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^check\s+status\s+ms\s+detail/);
  });

  it('health: exit 5 naming the engine when it is down', () => {
    const r = cli(['health', '--json'], {
      OPENCODE_HOME: home.dir,
      DOCKER_HOST: 'unix:///nonexistent/docker.sock',
    });
    expect(r.code).toBe(5);
    const report = JSON.parse(r.stdout);
    expect(report.status).toBe('down');
    expect(report.checks.engine.status).toBe('down');
    expect(report.checks.engine.error).toMatch(/nonexistent\/docker\.sock|DOCKER_HOST/);
    expect(report.checks.database.status).toBe('ok');
    expect(r.stderr).toContain('unhealthy: engine down');
  });

  it('health: exit 5 when the disk has less free space than asked', () => {
    const r = cli(['health', '--json', '--min-free-disk', '999999999'], env);
    expect(r.code).toBe(5);
    expect(JSON.parse(r.stdout).checks.disk.error).toMatch(
      /MiB free under .* \(minimum 999999999 MiB\); free some space/,
    );
    const bad = cli(['health', '--min-free-disk', 'lots'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--min-free-disk');
  });

  it('metrics: Prometheus text, or JSON with --json', () => {
    expect(cli(['create-task', 'counted'], env).code).toBe(0);
    const r = cli(['metrics'], env);
    expect(r.code).toBe(0);
    const { samples } = parseStrict(r.stdout);
    expect(valueOf(samples, 'opencode_tasks', { status: 'pending' })).toBe(1);
    expect(valueOf(samples, 'opencode_engine_up')).toBe(1);
    const j = cli(['metrics', '--json'], env);
    expect(j.code).toBe(0);
    const names = (JSON.parse(j.stdout).metrics as { name: string }[]).map((m) => m.name);
    expect(names).toEqual(
      expect.arrayContaining(['opencode_tasks', 'opencode_exec_duration_seconds']),
    );
  });
});

describe('serve puts the dashboard and /metrics behind the token', () => {
  let home: ReturnType<typeof tempHome>;
  const children: ChildProcess[] = [];

  function serve(args: string[]): Promise<{ base: string; child: ChildProcess }> {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--json', ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        OPENCODE_HOME: home.dir,
        OPENCODE_SANDBOX_RUNTIME: 'memory',
        OPENCODE_MCP_TOKEN: TOKEN,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    return new Promise((resolve, reject) => {
      let out = '';
      let err = '';
      child.stderr!.on('data', (c) => (err += c));
      child.stdout!.on('data', (c) => {
        out += c;
        if (out.includes('\n')) {
          const info = JSON.parse(out);
          resolve({ base: info.url.replace(/\/mcp$/, ''), child });
        }
      });
      child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
    });
  }

  beforeAll(() => {
    assertBuilt();
    home = tempHome('oct-serve-dash-');
  });
  afterAll(async () => {
    for (const c of children) {
      if (c.exitCode === null) {
        c.kill('SIGTERM');
        await new Promise((r) => c.once('exit', r));
      }
    }
    home.cleanup();
  });

  it('serves /, /api and /metrics only with the token', async () => {
    const { base } = await serve([]);
    expect((await fetch(`${base}/`)).status).toBe(401);
    expect((await fetch(`${base}/api/tasks`)).status).toBe(401);
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const m = await fetch(`${base}/metrics`, { headers: auth });
    expect(m.status).toBe(200);
    const { samples } = parseStrict(await m.text());
    expect(valueOf(samples, 'opencode_dashboard_viewers')).toBe(0);
    const page = await fetch(`${base}/`, { headers: auth });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('OpenCode Tools');
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });

  it('--no-dashboard keeps /metrics and drops the page', async () => {
    const { base } = await serve(['--no-dashboard']);
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await fetch(`${base}/`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { headers: auth })).status).toBe(200);
  });
});
