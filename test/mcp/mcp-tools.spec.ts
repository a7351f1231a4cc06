import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ERROR_META_KEY } from '../../src/modules/mcp/tool-result';
import { call, errorText, inMemoryClient, mcpApp, ok } from './mcp-harness';
import { ALL_TOOLS, INVALID_ARGS } from './invalid-args';

describe('MCP tools over the in-memory transport', () => {
  let ctx: Awaited<ReturnType<typeof mcpApp>>;
  let client: Client;

  beforeAll(async () => {
    ctx = await mcpApp();
    client = await inMemoryClient(ctx.registry);
  });
  afterAll(async () => {
    await client?.close();
    await ctx?.close();
  });

  it('lists every tool with described inputs, an output schema and annotations', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...ALL_TOOLS].sort());
    expect(tools.map((t) => t.name).sort()).toEqual(
      ctx.registry
        .tools()
        .map((t) => t.name)
        .sort(),
    );
    for (const t of tools) {
      expect(t.description).toBeTruthy();
      expect(t.inputSchema).toMatchObject({ type: 'object', additionalProperties: false });
      for (const [field, schema] of Object.entries(t.inputSchema.properties ?? {})) {
        expect([t.name, field, (schema as { description?: string }).description]).toEqual([
          t.name,
          field,
          expect.any(String),
        ]);
      }
      expect(t.outputSchema?.type).toBe('object');
      expect(t.annotations).toMatchObject({ readOnlyHint: expect.any(Boolean) });
    }
  });

  it('runs a task through create, status, resume, complete, delete', async () => {
    const created = await ok(client, 'create_task_sandbox', {
      name: 'fix flaky test',
      owner: 'claude',
      image: 'node:20',
      limits: { cpus: 0.5, memoryMb: 256 },
      network: 'none',
      env: { CI: '1' },
    });
    expect(created).toMatchObject({ status: 'pending', owner: 'claude', mode: 'exclusive' });
    expect(created.sandbox).toEqual({
      image: 'node:20',
      limits: { cpus: 0.5, memoryMb: 256 },
      network: 'none',
      env: { CI: '1' },
    });
    const taskId = created.taskId as string;
    expect(await ok(client, 'get_task_status', { taskId })).toMatchObject({ taskId, version: 1 });
    expect(await ok(client, 'resume_task', { taskId })).toMatchObject({ status: 'running' });
    const done = await ok(client, 'complete_task', { taskId, result: { pr: 42 }, message: 'ok' });
    expect(done).toMatchObject({ status: 'completed', result: { message: 'ok', pr: 42 } });
    expect(await ok(client, 'delete_task', { taskId })).toEqual({
      taskId,
      deleted: true,
      status: 'completed',
    });
    const gone = await call(client, 'get_task_status', { taskId });
    expect(gone.isError).toBe(true);
    expect(errorText(gone)).toMatch(/^NOT_FOUND: task 'tsk_\w+' not found\. Check the id/);
    expect(gone._meta?.[ERROR_META_KEY]).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('fails, cancels, force-deletes, lists, searches and counts', async () => {
    const a = await ok(client, 'create_task_sandbox', { name: 'alpha job', owner: 'ann' });
    const b = await ok(client, 'create_task_sandbox', { name: 'beta job', owner: 'bob' });
    const c = await ok(client, 'create_task_sandbox', {
      name: 'gamma',
      owner: 'bob',
      mode: 'collaborative',
    });
    await ok(client, 'resume_task', { taskId: a.taskId });
    expect(await ok(client, 'fail_task', { taskId: a.taskId, error: 'red' })).toMatchObject({
      status: 'failed',
      error: 'red',
    });
    expect(await ok(client, 'cancel_task', { taskId: b.taskId, reason: 'dup' })).toMatchObject({
      status: 'cancelled',
    });
    const page = await ok(client, 'list_tasks', { status: 'pending', owner: 'bob' });
    expect(page.tasks.map((t: { taskId: string }) => t.taskId)).toEqual([c.taskId]);
    expect(await ok(client, 'list_tasks', { status: ['failed', 'cancelled'] })).toMatchObject({
      total: 2,
    });
    expect(await ok(client, 'list_tasks', { text: 'BETA' })).toMatchObject({ total: 1 });
    // Text and filters combine (AND).
    const jobs = await ok(client, 'list_tasks', { text: 'job', status: 'failed', owner: 'ann' });
    expect(jobs.tasks.map((t: { taskId: string }) => t.taskId)).toEqual([a.taskId]);
    expect(await ok(client, 'list_tasks', { text: 'job', owner: 'nobody' })).toMatchObject({
      total: 0,
    });
    expect(await ok(client, 'task_stats', { owner: 'bob' })).toMatchObject({
      total: 2,
      byStatus: { pending: 1, cancelled: 1 },
    });
    const refused = await call(client, 'delete_task', { taskId: c.taskId });
    expect(errorText(refused)).toMatch(/^ILLEGAL_TRANSITION: .*pending.*force/);
    expect(await ok(client, 'delete_task', { taskId: c.taskId, force: true })).toMatchObject({
      deleted: true,
      status: 'pending',
    });
  });

  it('returns domain errors as results that say what to do', async () => {
    const t = await ok(client, 'create_task_sandbox', { name: 'x' });
    const early = await call(client, 'complete_task', { taskId: t.taskId });
    expect(early.isError).toBe(true);
    expect(errorText(early)).toMatch(
      /^ILLEGAL_TRANSITION: task \S+ is pending; cannot move to completed \(allowed next: running, cancelled\)/,
    );
    const stale = await call(client, 'resume_task', { taskId: t.taskId, expectedVersion: 7 });
    expect(errorText(stale)).toMatch(/^CONFLICT: .*version 7.*re-read/);
  });

  it('attaches agents with leases and refuses an agent not attached to an exclusive task', async () => {
    const t = await ok(client, 'create_task_sandbox', { name: 'leased' });
    const taskId = t.taskId as string;
    const lease = await ok(client, 'attach_agent_to_task', {
      taskId,
      agentId: 'a1',
      ttlMs: 60_000,
    });
    expect(lease).toMatchObject({
      taskId,
      agentId: 'a1',
      mode: 'exclusive',
      token: expect.any(Number),
    });
    const held = await call(client, 'attach_agent_to_task', { taskId, agentId: 'a2' });
    expect(errorText(held)).toMatch(/^LOCK_HELD: .*'a1'/);
    const stranger = await call(client, 'resume_task', { taskId, agentId: 'a2' });
    expect(stranger.isError).toBe(true);
    expect(errorText(stranger)).toMatch(/^(LOCK_HELD|NOT_ATTACHED): /);
    expect(await ok(client, 'get_task_status', { taskId })).toMatchObject({ status: 'pending' });
    expect(await ok(client, 'resume_task', { taskId, agentId: 'a1' })).toMatchObject({
      status: 'running',
    });
    const { locks } = await ok(client, 'list_locks', { taskId });
    expect(locks).toEqual([expect.objectContaining({ holder: 'a1', resource: `task:${taskId}` })]);
    expect(await ok(client, 'detach_agent_from_task', { taskId, agentId: 'a1' })).toMatchObject({
      detached: true,
    });
    const gone = await call(client, 'complete_task', { taskId, agentId: 'a1' });
    expect(errorText(gone)).toMatch(/^NOT_ATTACHED: .*attach_agent_to_task/);
    expect(await ok(client, 'list_locks', { agentId: 'a1' })).toEqual({ locks: [] });
  });

  it.each(Object.entries(INVALID_ARGS))(
    'refuses invalid arguments to %s, naming the field, and keeps serving',
    async (tool, cases) => {
      for (const { args, field } of cases) {
        const r = await call(client, tool, args);
        expect(r.isError).toBe(true);
        expect(errorText(r)).toMatch(
          new RegExp(`^VALIDATION: invalid arguments for ${tool}: .*${field}`),
        );
      }
      const unknown = await call(client, tool, { ...cases[0].args, task_id: 'x' });
      expect(errorText(unknown)).toMatch(/task_id: unknown argument/);
      expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    },
  );

  it('has invalid-argument cases for every tool', async () => {
    const { tools } = await client.listTools();
    expect(Object.keys(INVALID_ARGS).sort()).toEqual(
      expect.arrayContaining(tools.map((t) => t.name).sort()),
    );
  });
});
