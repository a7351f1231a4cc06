import { SandboxService } from '../../src/modules/docker/sandbox.service';
import { TasksService } from '../../src/modules/tasks/tasks.service';
import { describeDocker, TEST_IMAGE } from '../docker/engine';
import { dashboardServer, type DashboardServer } from './harness';
import { parseStrict, valueOf } from './prom-text';

jest.setTimeout(120_000);

/** Reads an SSE stream until `pick` returns a message. */
async function firstMessage<T>(
  url: string,
  pick: (msg: Record<string, unknown>) => T | undefined,
  ms = 15_000,
): Promise<T> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    const res = await fetch(url, { signal: ac.signal });
    const reader = res.body!.getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('stream ended');
      buf += Buffer.from(value).toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = frame
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n');
        if (!data) continue;
        const hit = pick(JSON.parse(data));
        if (hit !== undefined) return hit;
      }
    }
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}

describeDocker('dashboard over a real Docker sandbox', () => {
  let srv: DashboardServer;
  let tasks: TasksService;

  beforeAll(async () => {
    srv = await dashboardServer({
      options: { sandboxImage: TEST_IMAGE, sandbox: { runtime: 'docker' } },
    });
    tasks = srv.app.get(TasksService);
  });
  afterAll(async () => {
    for (const t of (await tasks.list({ limit: 100 })).items) {
      await tasks.delete(t.id, { force: true }).catch(() => undefined);
    }
    await srv?.close();
  });

  it('streams live resource samples and execs of the task being viewed; /metrics counts them', async () => {
    const t = await tasks.create({ name: 'real', sandbox: { limits: { memoryMb: 96, pids: 32 } } });
    await tasks.start(t.id);
    const detail = (await (await fetch(`${srv.base}/api/tasks/${t.id}`)).json()) as {
      sandbox: { sandbox: unknown };
    };
    expect(detail.sandbox.sandbox).toMatchObject({
      state: 'running',
      limits: { memoryMb: 96, pids: 32 },
    });
    const stats = await firstMessage(`${srv.base}/api/events?task=${t.id}`, (m) =>
      m.type === 'stats' ? (m.stats as Record<string, number>) : undefined,
    );
    expect(stats.memoryLimitBytes).toBe(96 * 1048576);
    expect(stats.pidsLimit).toBe(32);
    expect(stats.pids).toBeGreaterThanOrEqual(1);

    const exec = firstMessage(`${srv.base}/api/events?task=${t.id}`, (m) =>
      m.type === 'exec' ? m.execution : undefined,
    );
    await new Promise((r) => setTimeout(r, 300)); // the stream is open before the command runs
    await srv.app.get(SandboxService).exec(t.id, { command: ['sh', '-c', 'exit 3'] });
    expect(await exec).toMatchObject({
      command: ['sh', '-c', 'exit 3'],
      exitCode: 3,
      timedOut: false,
    });

    const { samples } = parseStrict(await (await fetch(`${srv.base}/metrics`)).text());
    expect(valueOf(samples, 'opencode_exec_duration_seconds_count', { outcome: 'failed' })).toBe(1);
    expect(valueOf(samples, 'opencode_sandboxes', { state: 'running' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'opencode_engine_up')).toBe(1);
  });
});
