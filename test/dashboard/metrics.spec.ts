import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ReconcilerService } from '../../src/modules/docker/reconciler.service';
import { LockManager } from '../../src/modules/locks/lock-manager.service';
import { SANDBOX_RUNTIME, type SandboxRuntime } from '../../src/ports/sandbox-runtime.port';
import { dashboardServer, mcpClient, type DashboardServer } from './harness';
import { parseStrict, valueOf } from './prom-text';

const TOKEN = 'metrics-token-0123456789';

async function scrape(base: string, token?: string) {
  const res = await fetch(`${base}/metrics`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

describe('/metrics (Prometheus text format)', () => {
  let srv: DashboardServer;
  let mcp: Client;

  beforeAll(async () => {
    srv = await dashboardServer({ token: TOKEN });
    mcp = await mcpClient(srv.http.url, TOKEN);
  });
  afterAll(async () => {
    await mcp?.close();
    await srv?.close();
  });

  it('needs the same bearer token as /mcp', async () => {
    const none = await scrape(srv.base);
    expect(none.status).toBe(401);
    expect(none.text).toContain('OPENCODE_MCP_TOKEN');
    expect((await scrape(srv.base, 'wrong-token-0123456789')).status).toBe(401);
    const ok = await scrape(srv.base, TOKEN);
    expect(ok.status).toBe(200);
    expect(ok.type).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('reports tasks, sandboxes, execs, locks, reconciler actions and MCP calls', async () => {
    const call = (name: string, args: Record<string, unknown>) =>
      mcp.callTool({ name, arguments: args }) as Promise<{
        isError?: boolean;
        structuredContent?: Record<string, unknown>;
      }>;
    const created = await call('create_task_sandbox', { name: 'metered', image: 'busybox' });
    const taskId = created.structuredContent!.taskId as string;
    await call('resume_task', { taskId });
    await call('attach_agent_to_task', { taskId, agentId: 'a1' });
    expect(
      (await call('execute_in_task', { taskId, agentId: 'a1', command: ['true'] })).isError,
    ).toBeFalsy();
    await call('execute_in_task', { taskId, agentId: 'a1', command: ['false'] });
    expect((await call('get_task_status', { taskId: 'tsk_missing' })).isError).toBe(true);
    await call('create_task_sandbox', { name: 'plain pending' });

    // A lock conflict, and a wait that ends in a grant.
    const locks = srv.app.get(LockManager);
    await locks.acquireLock('res:x', 'h1', 'exclusive', { ttlMs: 200 });
    await expect(locks.acquireLock('res:x', 'h2')).rejects.toMatchObject({ code: 'LOCK_HELD' });
    await locks.acquireLockWithRetry('res:x', 'h2', 'exclusive', { waitMs: 2_000 });

    // A reconciler action: a live task whose container vanished.
    const victim = await call('create_task_sandbox', { name: 'vanishing', image: 'busybox' });
    await srv.app
      .get<SandboxRuntime>(SANDBOX_RUNTIME)
      .remove(victim.structuredContent!.taskId as string);
    await srv.app.get(ReconcilerService).reconcile();

    const { text } = await scrape(srv.base, TOKEN);
    const { types, samples } = parseStrict(text);
    const lenient = parsePrometheusTextFormat(text);
    expect(lenient.map((f) => f.name)).toEqual(expect.arrayContaining([...types.keys()]));

    expect(types.get('opencode_tasks')).toBe('gauge');
    expect(valueOf(samples, 'opencode_tasks', { status: 'running' })).toBe(1);
    expect(valueOf(samples, 'opencode_tasks', { status: 'pending' })).toBe(1);
    expect(valueOf(samples, 'opencode_tasks', { status: 'cancelled' })).toBe(1); // the vanished pending one
    expect(valueOf(samples, 'opencode_sandboxes', { state: 'running' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'opencode_engine_up')).toBe(1);

    expect(types.get('opencode_exec_duration_seconds')).toBe('histogram');
    expect(valueOf(samples, 'opencode_exec_duration_seconds_count', { outcome: 'ok' })).toBe(1);
    expect(valueOf(samples, 'opencode_exec_duration_seconds_count', { outcome: 'failed' })).toBe(1);
    expect(
      valueOf(samples, 'opencode_exec_duration_seconds_bucket', { outcome: 'ok', le: '+Inf' }),
    ).toBe(1);

    expect(valueOf(samples, 'opencode_lock_conflicts_total')).toBeGreaterThanOrEqual(2);
    expect(valueOf(samples, 'opencode_lock_wait_seconds_count', { granted: 'true' })).toBe(1);
    expect(valueOf(samples, 'opencode_lock_wait_seconds_sum', { granted: 'true' })).toBeGreaterThan(
      0,
    );

    expect(valueOf(samples, 'opencode_reconciler_actions_total', { kind: 'failed-task' })).toBe(1);

    expect(
      valueOf(samples, 'opencode_mcp_calls_total', { tool: 'execute_in_task', outcome: 'ok' }),
    ).toBe(2);
    expect(
      valueOf(samples, 'opencode_mcp_calls_total', {
        tool: 'get_task_status',
        outcome: 'NOT_FOUND',
      }),
    ).toBe(1);
    expect(valueOf(samples, 'opencode_mcp_call_duration_seconds_count')).toBeGreaterThanOrEqual(8);
    expect(valueOf(samples, 'opencode_dashboard_viewers')).toBe(0);
    expect(valueOf(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('the strict reader refuses malformed expositions', () => {
    expect(() => parseStrict('# TYPE a gauge\na{x="1} 1\n')).toThrow(/malformed labels/);
    expect(() => parseStrict('b 1\n')).toThrow(/undeclared family/);
    expect(() => parseStrict('# TYPE a gauge\na one\n')).toThrow(/not a number/);
  });
});
