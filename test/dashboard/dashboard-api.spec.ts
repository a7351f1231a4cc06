import { request } from 'node:http';
import { join } from 'node:path';
import { ReconcilerService } from '../../src/modules/docker/reconciler.service';
import { SandboxMonitorService } from '../../src/modules/docker/sandbox-monitor.service';
import { CheckpointsService } from '../../src/modules/history/checkpoints.service';
import { TaskLogService } from '../../src/modules/history/task-log.service';
import { TasksService } from '../../src/modules/tasks/tasks.service';
import { SANDBOX_RUNTIME, type SandboxRuntime } from '../../src/ports/sandbox-runtime.port';
import { assertBuilt, cli } from '../helpers/cli';
import { tempHome } from '../helpers/temp-home';
import { dashboardServer, type DashboardServer } from './harness';

const TOKEN = 'dashboard-token-0123456789';

/**
 * A raw request, so Host, Origin and cookies can be anything. A new connection each (no
 * keep-alive): a CI run once failed with `read ECONNRESET` on a request made right after CLI runs
 * (spawnSync, which blocks this process and so the server too), the mark of a kept-alive socket
 * the server closed as the request went out.
 */
function raw(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: opts.method ?? 'GET', headers: opts.headers, agent: false },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body ?? '');
  });
}

/** The change feed as text, read until a pattern shows up. */
async function events(base: string) {
  const ac = new AbortController();
  const res = await fetch(`${base}/api/events`, { signal: ac.signal });
  const reader = res.body!.getReader();
  let text = '';
  return {
    async until(re: RegExp): Promise<void> {
      while (!re.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${re}`);
        text += Buffer.from(value).toString('utf8');
      }
    },
    close: () => ac.abort(),
  };
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  raw(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

describe('dashboard HTTP API (open, loopback)', () => {
  let srv: DashboardServer;
  let tasks: TasksService;

  beforeAll(async () => {
    srv = await dashboardServer();
    tasks = srv.app.get(TasksService);
    for (let i = 0; i < 120; i++)
      await tasks.create({ name: `bulk ${i}`, owner: i % 2 ? 'odd' : 'even' });
  });
  afterAll(() => srv?.close());

  it('serves the page and its files with a strict content security policy', async () => {
    const page = await raw(`${srv.base}/`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect(page.body).toContain('<script type="module" src="/app.js">');
    for (const js of [
      'app.js',
      'lib.js',
      'list-view.js',
      'task-view.js',
      'task-parts.js',
      'task-actions.js',
      'task-log.js',
      'task-history.js',
      'system-view.js',
    ]) {
      const r = await raw(`${srv.base}/${js}`);
      expect({ js, status: r.status }).toEqual({ js, status: 200 });
      expect(r.headers['content-type']).toMatch(/^text\/javascript/);
    }
    expect((await raw(`${srv.base}/app.css`)).status).toBe(200);
    expect((await raw(`${srv.base}/nope`)).status).toBe(404);
  });

  it('pages on the server and filters by status and text', async () => {
    const first = JSON.parse((await raw(`${srv.base}/api/tasks?limit=50`)).body);
    expect(first).toMatchObject({ total: 120, limit: 50, offset: 0 });
    expect(first.items).toHaveLength(50);
    expect(first.items[0].name).toBe('bulk 119');
    const last = JSON.parse((await raw(`${srv.base}/api/tasks?limit=50&offset=100`)).body);
    expect(last.items).toHaveLength(20);
    const found = JSON.parse((await raw(`${srv.base}/api/tasks?q=bulk%2011`)).body);
    expect(found.items.map((t: { name: string }) => t.name).sort()).toEqual(
      [
        'bulk 11',
        'bulk 110',
        'bulk 111',
        'bulk 112',
        'bulk 113',
        'bulk 114',
        'bulk 115',
        'bulk 116',
        'bulk 117',
        'bulk 118',
        'bulk 119',
      ].sort(),
    );
    const none = JSON.parse((await raw(`${srv.base}/api/tasks?status=running`)).body);
    expect(none.total).toBe(0);
    // Search and filters combine: the text within the filtered tasks.
    const both = JSON.parse((await raw(`${srv.base}/api/tasks?q=bulk%2011&status=pending`)).body);
    expect(both.total).toBe(11);
    const narrowed = JSON.parse(
      (await raw(`${srv.base}/api/tasks?q=bulk%2011&status=running,failed`)).body,
    );
    expect(narrowed).toMatchObject({ total: 0, items: [] });
    const byName = JSON.parse(
      (await raw(`${srv.base}/api/tasks?q=bulk%2011&sort=name&order=asc&limit=2`)).body,
    );
    expect(byName.items.map((t: { name: string }) => t.name)).toEqual(['bulk 11', 'bulk 110']);
  });

  it('answers bad input with the field and the fix', async () => {
    const bad = await raw(`${srv.base}/api/tasks?limit=5000`);
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error).toMatchObject({
      code: 'VALIDATION',
      message: expect.stringContaining('limit'),
    });
    const status = await raw(`${srv.base}/api/tasks?status=done`);
    expect(JSON.parse(status.body).error.message).toMatch(/status: 'done' is not one of pending/);
    const missing = await raw(`${srv.base}/api/tasks/tsk_nope`);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body).error.code).toBe('NOT_FOUND');
    const stream = await raw(`${srv.base}/api/events?task=tsk_nope`);
    expect(stream.status).toBe(404);
    expect(JSON.parse(stream.body).error.message).toBe("task 'tsk_nope' not found");
  });

  it('acts through the same services and shows the domain error', async () => {
    const t = await tasks.create({ name: 'act on me' });
    const del = await post(`${srv.base}/api/tasks/${t.id}/delete`, {});
    expect(del.status).toBe(409);
    expect(JSON.parse(del.body).error).toMatchObject({
      code: 'ILLEGAL_TRANSITION',
      message: expect.stringContaining('only completed, failed, cancelled tasks can be deleted'),
    });
    const cp = JSON.parse(
      (await post(`${srv.base}/api/tasks/${t.id}/checkpoint`, { description: 'before' })).body,
    );
    expect(cp.checkpoint.id).toMatch(/^chk_/);
    expect((await post(`${srv.base}/api/tasks/${t.id}/cancel`, {})).status).toBe(200);
    expect((await tasks.get(t.id)).status).toBe('cancelled');
    const restored = JSON.parse(
      (await post(`${srv.base}/api/tasks/${t.id}/restore`, { checkpointId: cp.checkpoint.id }))
        .body,
    );
    expect(restored.task.status).toBe('pending');
    const forked = JSON.parse(
      (
        await post(`${srv.base}/api/tasks/${t.id}/fork`, {
          checkpointId: cp.checkpoint.id,
          name: 'child',
        })
      ).body,
    );
    expect(forked.task).toMatchObject({ name: 'child', status: 'pending' });
    const unknown = await post(`${srv.base}/api/tasks/${t.id}/explode`, {});
    expect(JSON.parse(unknown.body).error.message).toMatch(/action: 'explode' is not one of/);
    // A form post (no JSON content type) is refused: cross-site pages cannot send JSON unasked.
    const form = await raw(`${srv.base}/api/tasks/${t.id}/cancel`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'x=1',
    });
    expect(form.status).toBe(400);
    expect(JSON.parse(form.body).error.message).toMatch(/content-type/);
  });

  it('returns detail with timeline, checkpoints, logs, executions, decisions', async () => {
    const t = await tasks.create({ name: 'detailed' });
    await tasks.start(t.id);
    await srv.app.get(CheckpointsService).create({ taskId: t.id, description: 'cp1' });
    await srv.app.get(TaskLogService).write(t.id, 'warn', 'careful');
    const d = JSON.parse((await raw(`${srv.base}/api/tasks/${t.id}`)).body);
    expect(d.task.status).toBe('running');
    expect(d.timeline.map((e: { message: string }) => e.message)).toEqual([
      'task created',
      'task started',
    ]);
    expect(d.checkpoints[0]).toMatchObject({ description: 'cp1' });
    expect(d.locks).toEqual([]);
    const logs = JSON.parse((await raw(`${srv.base}/api/tasks/${t.id}/logs?level=warn`)).body);
    expect(logs.entries.map((e: { message: string }) => e.message)).toEqual(['careful']);
    expect((await raw(`${srv.base}/api/tasks/${t.id}/logs?level=loud`)).status).toBe(400);
    expect(JSON.parse((await raw(`${srv.base}/api/tasks/${t.id}/executions`)).body).items).toEqual(
      [],
    );
    expect(JSON.parse((await raw(`${srv.base}/api/tasks/${t.id}/decisions`)).body).items).toEqual(
      [],
    );
  });

  it('reports system health and counts', async () => {
    const s = JSON.parse((await raw(`${srv.base}/api/system`)).body);
    expect(s.health.status).toBe('ok');
    expect(Object.keys(s.health.checks)).toEqual(['engine', 'database', 'disk']);
    expect(s.counts.total).toBeGreaterThanOrEqual(120);
  });

  it('pushes changes to every open stream from one feed', async () => {
    const streams = await Promise.all(
      [0, 1, 2].map(async () => {
        const ac = new AbortController();
        const res = await fetch(`${srv.base}/api/events`, { signal: ac.signal });
        expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
        const reader = res.body!.getReader();
        let text = '';
        const until = async (needle: string) => {
          while (!text.includes(needle)) {
            const { value, done } = await reader.read();
            if (done) throw new Error(`stream ended before '${needle}'`);
            text += Buffer.from(value).toString('utf8');
          }
        };
        return { ac, until };
      }),
    );
    await Promise.all(streams.map((s) => s.until('"type":"hello"')));
    await tasks.create({ name: 'announced <to> all' });
    await Promise.all(streams.map((s) => s.until('announced <to> all')));
    for (const s of streams) s.ac.abort();
  });

  it('refuses a foreign Host or Origin (DNS rebinding) on the dashboard too', async () => {
    expect((await raw(`${srv.base}/api/tasks`, { headers: { host: 'evil.example' } })).status).toBe(
      403,
    );
    expect((await raw(`${srv.base}/`, { headers: { origin: 'http://evil.example' } })).status).toBe(
      403,
    );
  });
});

describe('dashboard HTTP API with a token', () => {
  let srv: DashboardServer;
  beforeAll(async () => {
    srv = await dashboardServer({ token: TOKEN });
  });
  afterAll(() => srv?.close());

  it('refuses the page, the data and the feed without the token', async () => {
    for (const path of ['/', '/app.js', '/api/tasks', '/api/system', '/api/events']) {
      const r = await raw(`${srv.base}${path}`);
      expect({ path, status: r.status }).toEqual({ path, status: 401 });
      expect(r.body).not.toContain('tsk_');
    }
    expect((await post(`${srv.base}/api/tasks/x/cancel`, {})).status).toBe(401);
    expect((await raw(`${srv.base}/?token=wrong-token-0123456789`)).status).toBe(401);
  });

  it('logs a browser in from /?token= into an HttpOnly cookie, and accepts a bearer header', async () => {
    const login = await raw(`${srv.base}/?token=${TOKEN}`);
    expect(login.status).toBe(303);
    expect(login.headers.location).toBe('/');
    const cookie = String((login.headers['set-cookie'] as string[])[0]);
    expect(cookie).toMatch(/^opencode_session=[0-9a-f]{64}; HttpOnly; SameSite=Strict; Path=\//);
    expect(cookie).not.toContain(TOKEN);
    const session = cookie.split(';')[0];
    expect((await raw(`${srv.base}/api/tasks`, { headers: { cookie: session } })).status).toBe(200);
    expect(
      (await raw(`${srv.base}/`, { headers: { cookie: 'opencode_session=forged' } })).status,
    ).toBe(401);
    const bearer = await raw(`${srv.base}/api/tasks`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(bearer.status).toBe(200);
    // The cookie opens read-only /metrics too, never /mcp (programs there send the bearer header).
    expect((await raw(`${srv.base}/metrics`, { headers: { cookie: session } })).status).toBe(200);
    const mcp = await raw(`${srv.base}/mcp`, { method: 'POST', headers: { cookie: session } });
    expect(mcp.status).toBe(401);
  });
});

describe('dashboard feed and other processes on the same database', () => {
  const home = tempHome('oct-dash-shared-');
  let srv: DashboardServer;
  beforeAll(async () => {
    assertBuilt();
    srv = await dashboardServer({
      options: {
        home: home.dir,
        database: { driver: 'sqlite', path: join(home.dir, 'opencode.db') },
      },
    });
  });
  afterAll(async () => {
    await srv?.close();
    home.cleanup();
  });

  it('announces tasks created and started by the CLI in another process', async () => {
    const ac = new AbortController();
    const res = await fetch(`${srv.base}/api/events`, { signal: ac.signal });
    const reader = res.body!.getReader();
    let text = '';
    const until = async (re: RegExp) => {
      while (!re.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${re}`);
        text += Buffer.from(value).toString('utf8');
      }
    };
    await until(/"type":"hello"/);
    const env = { OPENCODE_HOME: home.dir, OPENCODE_SANDBOX_RUNTIME: 'memory' };
    const made = cli(['create-task', 'from another process', '--json'], env);
    expect(made.code).toBe(0);
    const id = JSON.parse(made.stdout).id as string;
    await until(new RegExp(`"id":"${id}","name":"from another process","status":"pending"`));
    expect(cli(['resume-task', '--task', id], env).code).toBe(0);
    await until(new RegExp(`"id":"${id}","name":"from another process","status":"running"`));
    ac.abort();
  });

  it('pushes a deletion by the CLI in another process to the viewers it was shown to', async () => {
    const env = { OPENCODE_HOME: home.dir, OPENCODE_SANDBOX_RUNTIME: 'memory' };
    const made = cli(['create-task', 'deleted elsewhere', '--json'], env);
    const id = JSON.parse(made.stdout).id as string;
    const kept = JSON.parse(cli(['create-task', 'kept', '--json'], env).stdout).id as string;
    const feed = await events(srv.base);
    await feed.until(/"type":"hello"/);
    // A dashboard loads the list: the server notes which tasks it showed.
    const page = JSON.parse((await raw(`${srv.base}/api/tasks`)).body);
    expect(page.items.map((t: { id: string }) => t.id)).toEqual(expect.arrayContaining([id, kept]));
    const gone = cli(['cleanup-task', id, '--force', '--yes', '--json'], env);
    expect(gone.code).toBe(0);
    await feed.until(new RegExp(`"type":"deleted","id":"${id}"`));
    // A later change by the CLI still comes through, and the kept task was never announced gone.
    expect(cli(['resume-task', '--task', kept], env).code).toBe(0);
    await feed.until(new RegExp(`"id":"${kept}","name":"kept","status":"running"`));
    feed.close();
  });

  it('shows reconciler actions of another process (the CLI) on the system view', async () => {
    const env = { OPENCODE_HOME: home.dir, OPENCODE_SANDBOX_RUNTIME: 'memory' };
    // The CLI's in-memory engine forgets the sandbox when it exits: the next process's
    // reconciler finds the task's container gone and cancels the task.
    const made = cli(['create-task', 'sandbox lost', '--image', 'busybox', '--json'], env);
    expect(made.code).toBe(0);
    const id = JSON.parse(made.stdout).id as string;
    const r = cli(['reconcile', '--json'], env);
    expect(r.code).toBe(0);
    const system = JSON.parse((await raw(`${srv.base}/api/system`)).body);
    expect(system.reconciler).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'failed-task', taskId: id })]),
    );
  });
});

describe('alerts and reconciler actions are durable', () => {
  const home = tempHome('oct-dash-durable-');
  const options = {
    home: home.dir,
    database: { driver: 'sqlite' as const, path: join(home.dir, 'opencode.db') },
    // The in-memory engine reports 1 MiB in use: 16.7% of a 6 MiB limit crosses 10%.
    sandbox: { runtime: 'memory' as const, memoryAlertPercent: 10 },
  };
  afterAll(() => home.cleanup());

  it('survive a restart of the server: the system view reads them from the database', async () => {
    const first = await dashboardServer({ options });
    let hot: string;
    let lost: string;
    try {
      const tasks = first.app.get(TasksService);
      hot = (await tasks.create({ name: 'hog', sandbox: { limits: { memoryMb: 6 } } })).id;
      await tasks.start(hot);
      const raised = await first.app.get(SandboxMonitorService).sample();
      expect(raised).toEqual([expect.objectContaining({ kind: 'memoryHigh', taskId: hot })]);
      lost = (await tasks.create({ name: 'lost', sandbox: {} })).id;
      await first.app.get<SandboxRuntime>(SANDBOX_RUNTIME).remove(lost);
      await first.app.get(ReconcilerService).reconcile();
      // The alert is a warn line in the task's own log as well.
      const log = await first.app.get(TaskLogService).read(hot, { level: 'warn' });
      expect(log.entries).toEqual([
        expect.objectContaining({
          level: 'warn',
          message: expect.stringMatching(/memory at .*alert at 10%/),
          data: expect.objectContaining({ alert: 'memoryHigh' }),
        }),
      ]);
    } finally {
      await first.close();
    }
    const second = await dashboardServer({ options });
    try {
      const system = JSON.parse((await raw(`${second.base}/api/system`)).body);
      expect(system.alerts).toEqual([
        expect.objectContaining({ kind: 'memoryHigh', taskId: hot, at: expect.any(String) }),
      ]);
      expect(system.reconciler).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ kind: 'failed-task', taskId: lost, at: expect.any(String) }),
        ]),
      );
    } finally {
      await second.close();
    }
  });
});
