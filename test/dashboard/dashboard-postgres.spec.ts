import { ReconcilerService } from '../../src/modules/docker/reconciler.service';
import { TaskLogService } from '../../src/modules/history/task-log.service';
import { TasksService } from '../../src/modules/tasks/tasks.service';
import { SANDBOX_RUNTIME, type SandboxRuntime } from '../../src/ports/sandbox-runtime.port';
import { describePg, freshDatabase } from '../helpers/postgres';
import { dashboardServer, type DashboardServer } from './harness';

/**
 * Collects an SSE stream's text; `until` waits for a pattern, at most 20 s, and then fails naming
 * the stream, the pattern and what the stream said last (not a bare test timeout).
 */
async function stream(url: string) {
  const ac = new AbortController();
  const res = await fetch(url, { signal: ac.signal });
  const reader = res.body!.getReader();
  let text = '';
  let pending: ReturnType<typeof reader.read> | undefined;
  return {
    close: () => ac.abort(),
    async until(re: RegExp, withinMs = 20_000): Promise<void> {
      const deadline = Date.now() + withinMs;
      while (!re.test(text)) {
        pending ??= reader.read();
        let timer: NodeJS.Timeout | undefined;
        const r = await Promise.race([
          pending,
          new Promise<undefined>(
            (ok) => (timer = setTimeout(() => ok(undefined), deadline - Date.now())),
          ),
        ]);
        clearTimeout(timer);
        if (!r) {
          throw new Error(
            `${url}: no ${re} within ${withinMs} ms; it last said: ${text.slice(-600)}`,
          );
        }
        pending = undefined;
        if (r.done) throw new Error(`stream ended before ${re}`);
        text += Buffer.from(r.value).toString('utf8');
      }
    },
  };
}

describePg('dashboards of two serve instances on one Postgres', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let a: DashboardServer;
  let b: DashboardServer;

  beforeAll(async () => {
    db = await freshDatabase();
    const options = { database: { driver: 'postgres' as const, url: db.url } };
    a = await dashboardServer({ options });
    b = await dashboardServer({ options });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  it("shows on A's dashboards what B does: new tasks, status changes, log lines", async () => {
    const feed = await stream(`${a.base}/api/events`);
    await feed.until(/"type":"hello"/);
    const tasksB = b.app.get(TasksService);
    const t = await tasksB.create({ name: 'made on B' });
    await feed.until(new RegExp(`"id":"${t.id}","name":"made on B","status":"pending"`));
    const detail = await stream(`${a.base}/api/events?task=${t.id}`);
    await detail.until(/"type":"hello"/);
    await new Promise((r) => setTimeout(r, 300)); // A's log follower has started
    await tasksB.start(t.id);
    await feed.until(new RegExp(`"id":"${t.id}","name":"made on B","status":"running"`));
    await b.app.get(TaskLogService).write(t.id, 'info', 'written on B');
    await detail.until(/"message":"written on B"/);
    const list = (await (await fetch(`${a.base}/api/tasks`)).json()) as { total: number };
    expect(list.total).toBe(1);
    const sys = (await (await fetch(`${a.base}/api/system`)).json()) as {
      health: { checks: { database: { status: string; driver: string } } };
    };
    expect(sys.health.checks.database).toMatchObject({ status: 'ok', driver: 'postgres' });
    feed.close();
    detail.close();
  });

  it("tells A's dashboards when B deletes a task they were shown, and shows B's reconciler actions", async () => {
    const tasksB = b.app.get(TasksService);
    const t = await tasksB.create({ name: 'deleted on B' });
    const feed = await stream(`${a.base}/api/events`);
    await feed.until(/"type":"hello"/);
    const page = (await (await fetch(`${a.base}/api/tasks`)).json()) as { items: { id: string }[] };
    expect(page.items.map((i) => i.id)).toContain(t.id);
    await tasksB.delete(t.id, { force: true });
    await feed.until(new RegExp(`"type":"deleted","id":"${t.id}"`));
    feed.close();

    // B's reconciler fails a live task whose sandbox vanished; A's system view lists it.
    const lost = await tasksB.create({ name: 'lost on B', sandbox: {} });
    await b.app.get<SandboxRuntime>(SANDBOX_RUNTIME).remove(lost.id);
    await b.app.get(ReconcilerService).reconcile();
    const sys = (await (await fetch(`${a.base}/api/system`)).json()) as {
      reconciler: { kind: string; taskId: string }[];
    };
    expect(sys.reconciler).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'failed-task', taskId: lost.id })]),
    );
  });
});
