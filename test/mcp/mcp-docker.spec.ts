import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { describeDocker, TEST_IMAGE as IMAGE } from '../docker/engine';
import { call, errorText, inMemoryClient, mcpApp, ok } from './mcp-harness';

describeDocker(`MCP sandbox tools against the real Docker engine (${IMAGE})`, () => {
  let ctx: Awaited<ReturnType<typeof mcpApp>>;
  let client: Client;
  let taskId: string;

  beforeAll(async () => {
    ctx = await mcpApp({ runtime: 'docker', pull: 'never' });
    client = await inMemoryClient(ctx.registry);
  });
  afterAll(async () => {
    if (taskId) await call(client, 'delete_task', { taskId, force: true });
    await client?.close();
    await ctx?.close();
  });

  it('creates a sandbox, runs commands in it, reads and writes files, and removes it', async () => {
    const t = await ok(client, 'create_task_sandbox', {
      name: 'docker e2e',
      image: IMAGE,
      limits: { memoryMb: 64, pids: 64 },
      network: 'none',
    });
    taskId = t.taskId as string;
    await ok(client, 'attach_agent_to_task', { taskId, agentId: 'a1' });
    await ok(client, 'resume_task', { taskId, agentId: 'a1' });
    const r = await ok(client, 'execute_in_task', {
      taskId,
      agentId: 'a1',
      command: 'echo out; echo err >&2; exit 2',
    });
    expect(r).toMatchObject({ exitCode: 2, stdout: 'out\n', stderr: 'err\n', timedOut: false });
    const slow = await ok(client, 'execute_in_task', {
      taskId,
      agentId: 'a1',
      command: ['sleep', '30'],
      timeoutMs: 500,
    });
    expect(slow.timedOut).toBe(true);
    // A client cancelling the call kills the command inside the sandbox.
    const abort = new AbortController();
    const t0 = Date.now();
    const cancelled = client.callTool(
      {
        name: 'execute_in_task',
        arguments: { taskId, agentId: 'a1', command: 'sleep 300 & sleep 301; wait' },
      },
      undefined,
      { signal: abort.signal },
    );
    setTimeout(() => abort.abort('changed my mind'), 800);
    await expect(cancelled).rejects.toThrow();
    let left = '';
    for (let i = 0; i < 50; i++) {
      left = (await ok(client, 'execute_in_task', { taskId, agentId: 'a1', command: 'ps -o args' }))
        .stdout as string;
      if (!/sleep 30[01]/.test(left)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(left).not.toMatch(/sleep 30[01]/);
    expect(Date.now() - t0).toBeLessThan(15_000);
    // The kill is journaled once the engine reports the process gone.
    let mine: unknown;
    for (let i = 0; i < 100 && !mine; i++) {
      const journal = await ok(client, 'list_executions', { taskId, limit: 10 });
      mine = (journal.executions as { command: string | string[] }[]).find((e) =>
        String(e.command).startsWith('sleep 300'),
      );
      if (!mine) await new Promise((r) => setTimeout(r, 100));
    }
    expect(mine).toMatchObject({ exitCode: null, timedOut: false });
    await ok(client, 'write_file', { taskId, agentId: 'a1', path: 'hello.txt', content: 'hi\n' });
    expect(await ok(client, 'read_file', { taskId, path: 'hello.txt' })).toMatchObject({
      content: 'hi\n',
      bytes: 3,
    });
    const cat = await ok(client, 'execute_in_task', {
      taskId,
      agentId: 'a1',
      command: 'cat hello.txt',
    });
    expect(cat.stdout).toBe('hi\n');
    const intruder = await call(client, 'execute_in_task', {
      taskId,
      agentId: 'a2',
      command: 'id',
    });
    expect(errorText(intruder)).toMatch(/^(LOCK_HELD|NOT_ATTACHED): /);
    expect(await ok(client, 'delete_task', { taskId, force: true })).toMatchObject({
      deleted: true,
    });
    taskId = '';
  });
});
