import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { newId } from '../../src/domain/ids';
import { ExecutionsService } from '../../src/modules/history/executions.service';
import { call, errorText, inMemoryClient, mcpApp, ok } from './mcp-harness';

describe('MCP task-memory tools (checkpoints, logs, decisions, executions)', () => {
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

  it('checkpoints, restores and forks a task, with progress notifications', async () => {
    const t = await ok(client, 'create_task_sandbox', { name: 'memory' });
    const taskId = t.taskId as string;
    await ok(client, 'resume_task', { taskId });
    await ok(client, 'record_decision', { taskId, agentId: 'a1', decision: 'before' });
    const progress: string[] = [];
    const cpResult = await client.callTool(
      { name: 'checkpoint_task', arguments: { taskId, description: 'green' } },
      undefined,
      { onprogress: (p) => progress.push(p.message ?? '') },
    );
    expect(cpResult.isError).toBeFalsy();
    const cp = cpResult.structuredContent as { checkpointId: string };
    expect(cp.checkpointId).toMatch(/^chk_/);
    expect(progress.join('\n')).toMatch(/committing/);
    const { checkpoints } = await ok(client, 'list_checkpoints', { taskId });
    expect(checkpoints).toEqual([expect.objectContaining({ checkpointId: cp.checkpointId })]);

    await ok(client, 'record_decision', { taskId, agentId: 'a1', decision: 'after' });
    await ok(client, 'complete_task', { taskId });
    const restored = await ok(client, 'restore_checkpoint', {
      taskId,
      checkpointId: cp.checkpointId,
    });
    expect(restored).toMatchObject({
      checkpointId: cp.checkpointId,
      task: { taskId, status: 'pending' },
      rewound: { decisions: 1 },
    });
    const live = await ok(client, 'list_decisions', { taskId, includeRewound: false });
    expect(live.decisions.map((d: { decision: string }) => d.decision)).toEqual(['before']);

    const fork = await ok(client, 'fork_task', {
      taskId,
      checkpointId: cp.checkpointId,
      name: 'other approach',
    });
    expect(fork).toMatchObject({ name: 'other approach', status: 'pending' });
    expect(fork.taskId).not.toBe(taskId);

    const missing = await call(client, 'restore_checkpoint', { taskId, checkpointId: 'chk_nope' });
    expect(errorText(missing)).toMatch(/^NOT_FOUND: checkpoint 'chk_nope' not found/);
  });

  it('reads logs, records and lists decisions, lists executions', async () => {
    const t = await ok(client, 'create_task_sandbox', { name: 'journal' });
    const taskId = t.taskId as string;
    await ok(client, 'resume_task', { taskId });
    const logs = await ok(client, 'read_task_logs', { taskId });
    expect(logs.entries.length).toBeGreaterThan(0);
    expect(await ok(client, 'read_task_logs', { taskId, text: 'no such text' })).toMatchObject({
      entries: [],
    });
    const d = await ok(client, 'record_decision', {
      taskId,
      agentId: 'a2',
      decision: 'pin node 20',
      reasoning: 'CI image',
      metadata: { alternatives: ['22'] },
    });
    expect(d).toMatchObject({ decisionId: expect.stringMatching(/^dec_/), agentId: 'a2' });
    expect(await ok(client, 'list_decisions', { taskId, agentId: 'a2' })).toMatchObject({
      total: 1,
      decisions: [{ decision: 'pin node 20', reasoning: 'CI image' }],
    });

    await ctx.app.get(ExecutionsService).record({
      id: newId('exe'),
      taskId,
      agentId: 'a2',
      command: ['npm', 'test'],
      startedAt: new Date().toISOString(),
      durationMs: 1200,
      exitCode: 1,
      timedOut: false,
      truncated: false,
      stdoutBytes: 3,
      stderrBytes: 4,
      stdoutHead: 'out',
      stdoutTail: '',
      stderrHead: 'fail',
      stderrTail: '',
    });
    const ex = await ok(client, 'list_executions', { taskId, failedOnly: true });
    expect(ex).toMatchObject({ total: 1, executions: [{ exitCode: 1, stderrHead: 'fail' }] });
    expect(ex.executions[0].executionId).toMatch(/^exe_/);
    const none = await call(client, 'list_executions', { taskId: 'tsk_nope' });
    expect(errorText(none)).toMatch(/^NOT_FOUND: task 'tsk_nope' not found/);
  });

  it('refuses a checkpoint for an agent that is not attached', async () => {
    const t = await ok(client, 'create_task_sandbox', { name: 'guarded' });
    const r = await call(client, 'checkpoint_task', {
      taskId: t.taskId,
      description: 'x',
      agentId: 'stranger',
    });
    expect(errorText(r)).toMatch(/^NOT_ATTACHED: /);
  });
});
