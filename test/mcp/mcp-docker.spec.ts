import { spawnSync } from 'node:child_process';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { call, errorText, inMemoryClient, mcpApp, ok } from './mcp-harness';

/** The offline image scripts/start-docker.sh builds; nothing is ever pulled. */
const IMAGE = process.env.OPENCODE_TEST_IMAGE ?? 'opencode-tools-test:busybox';
const haveDocker =
  spawnSync('docker', ['image', 'inspect', IMAGE], { stdio: 'ignore', timeout: 10_000 }).status ===
  0;
const describeDocker = haveDocker ? describe : describe.skip;

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
