import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { describeDocker, TEST_IMAGE } from '../docker/engine';
import { call, inMemoryClient, mcpApp, ok } from './mcp-harness';

jest.setTimeout(120_000);

describeDocker('re-attachable executions over MCP (real engine)', () => {
  let ctx: Awaited<ReturnType<typeof mcpApp>>;
  let client: Client;
  let taskId: string;
  const exec = (command: string, extra: Record<string, unknown> = {}) =>
    ok(client, 'execute_in_task', { taskId, agentId: 'a1', command, ...extra });

  beforeAll(async () => {
    ctx = await mcpApp({ runtime: 'docker', pull: 'never' });
    client = await inMemoryClient(ctx.registry);
    const t = await ok(client, 'create_task_sandbox', {
      name: 'reattach',
      image: TEST_IMAGE,
      limits: { memoryMb: 64, pids: 64 },
    });
    taskId = t.taskId as string;
    await ok(client, 'attach_agent_to_task', { taskId, agentId: 'a1' });
    await ok(client, 'resume_task', { taskId, agentId: 'a1' });
  });
  afterAll(async () => {
    if (taskId) await call(client, 'delete_task', { taskId, force: true });
    await client?.close();
    await ctx?.close();
  });

  it('answers "running" after the yield window; exec_poll reads new output; exec_wait gets the end', async () => {
    const r = await exec('for i in 1 2 3 4; do echo l$i; sleep 0.4; done; echo e >&2; exit 3', {
      yieldMs: 600,
    });
    expect(r).toMatchObject({ status: 'running', exitCode: null });
    expect(r.stdout).toMatch(/^l1\n/);
    const id = r.executionId as string;
    const p1 = await ok(client, 'exec_poll', { executionId: id });
    expect(p1.stdout.startsWith('l1\n')).toBe(true);
    // A second client (a reconnect) continues the same execution.
    const other = await inMemoryClient(ctx.registry);
    const w = await ok(other, 'exec_wait', { executionId: id, timeoutMs: 10_000 });
    expect(w).toMatchObject({
      status: 'completed',
      exitCode: 3,
      stdout: 'l1\nl2\nl3\nl4\n',
      stderr: 'e\n',
    });
    const p2 = await ok(other, 'exec_poll', {
      executionId: id,
      stdoutOffset: p1.stdoutOffset,
      stderrOffset: 0,
    });
    expect(p1.stdout + p2.stdout).toBe('l1\nl2\nl3\nl4\n');
    expect(p2).toMatchObject({ status: 'completed', exitCode: 3, stdoutOffset: 12 });
    await other.close();
    // The journal has it once.
    const list = await ok(client, 'list_executions', { taskId });
    const mine = (list.executions as { executionId: string; exitCode: number }[]).filter(
      (e) => e.executionId === id,
    );
    expect(mine).toEqual([expect.objectContaining({ exitCode: 3 })]);
  });

  it('exec_kill kills a running command and everything it started', async () => {
    const r = await exec('sleep 300 & sleep 301; echo never', { yieldMs: 200 });
    expect(r.status).toBe('running');
    const k = await ok(client, 'exec_kill', { executionId: r.executionId, agentId: 'a1' });
    expect(k).toMatchObject({ status: 'completed', exitCode: null, stdout: '' });
    const ps = await exec('ps -o args', { fresh: true });
    expect(ps.stdout).not.toMatch(/sleep 30[01]/);
  });

  it('a replayed idempotency key returns the first execution and does not run it twice', async () => {
    const cmd = 'echo run >> /workspace/runs; sleep 0.5; echo hello';
    const [a, b] = await Promise.all([
      exec(cmd, { idempotencyKey: 'k1' }),
      exec(cmd, { idempotencyKey: 'k1' }),
    ]);
    expect(a.executionId).toBe(b.executionId);
    const c = await exec(cmd, { idempotencyKey: 'k1' });
    expect(c).toMatchObject({ executionId: a.executionId, status: 'completed', replayed: true });
    expect(c.stdout).toBe('hello\n');
    expect((await exec('cat /workspace/runs')).stdout).toBe('run\n');
  });

  it('a command cut off from this process inside its yield window is continued through its record', async () => {
    const other = await ok(client, 'create_task_sandbox', { name: 'cut-off', image: TEST_IMAGE });
    const id = other.taskId as string;
    await ok(client, 'attach_agent_to_task', { taskId: id, agentId: 'a1' });
    await ok(client, 'resume_task', { taskId: id, agentId: 'a1' });
    const running = ok(client, 'execute_in_task', {
      taskId: id,
      agentId: 'a1',
      command: 'echo before; sleep 60',
      yieldMs: 30_000,
    });
    await new Promise((r) => setTimeout(r, 500));
    // Deleting the task closes its sessions: the call's session is gone while the command ran.
    await ok(client, 'delete_task', { taskId: id, force: true });
    const r = await running;
    expect(r).toMatchObject({ status: 'running', exitCode: null });
    // Before, this process kept it as running in memory, with no record: every wait answered
    // "running" until the process ended. Now the wait finds it lost, saying why.
    const w = await ok(client, 'exec_wait', { executionId: r.executionId, timeoutMs: 10_000 });
    expect(w).toMatchObject({ status: 'lost', exitCode: null });
    expect(w.stderr).toMatch(/was lost/);
  });
});
