import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { MemorySandboxRuntime } from '../../src/adapters/memory/memory-sandbox.runtime';
import {
  KEEP_FINISHED,
  DEADLINE_GRACE_MS,
  LiveExecutionsService,
  RECORD_AFTER_MS,
} from '../../src/modules/docker/live-executions.service';
import {
  RUNTIME_RECORD_STORE,
  type RuntimeRecordStore,
} from '../../src/ports/runtime-record-store.port';
import { call, errorText, inMemoryClient, mcpApp, ok, textOf } from './mcp-harness';

describe('MCP sandbox tools (in-process sandbox runtime)', () => {
  let ctx: Awaited<ReturnType<typeof mcpApp>>;
  let client: Client;
  let taskId: string;

  beforeAll(async () => {
    ctx = await mcpApp();
    client = await inMemoryClient(ctx.registry);
    const t = await ok(client, 'create_task_sandbox', {
      name: 'sandboxed',
      env: { GREETING: 'hi' },
    });
    taskId = t.taskId as string;
    await ok(client, 'attach_agent_to_task', { taskId, agentId: 'a1' });
    await ok(client, 'resume_task', { taskId, agentId: 'a1' });
  });
  afterAll(async () => {
    await client?.close();
    await ctx?.close();
  });

  it('runs a command and journals it under its execution id', async () => {
    const r = await ok(client, 'execute_in_task', {
      taskId,
      agentId: 'a1',
      command: ['echo', 'hello', 'world'],
    });
    expect(r).toMatchObject({
      exitCode: 0,
      stdout: 'hello world\n',
      stderr: '',
      timedOut: false,
      truncated: false,
      stdoutBytes: 12,
      stderrBytes: 0,
    });
    expect(r.executionId).toMatch(/^exe_/);
    const { executions } = await ok(client, 'list_executions', { taskId });
    expect(executions[0]).toMatchObject({ executionId: r.executionId, exitCode: 0 });
  });

  it('reports a failing command as a result, and output beyond the budget as head and tail', async () => {
    const failed = await ok(client, 'execute_in_task', {
      taskId,
      agentId: 'a1',
      command: 'exit 3',
    });
    expect(failed.exitCode).toBe(3);
    const big = await ok(client, 'execute_in_task', {
      taskId,
      agentId: 'a1',
      command: ['echo', `start-${'x'.repeat(5000)}-end`],
      maxOutputBytes: 1000,
    });
    expect(big.truncated).toBe(true);
    expect(big.stdoutBytes).toBe(5011);
    expect(big.stdout).toMatch(/^start-x+\n\[… \d+ bytes omitted …\]\nx+-end\n$/);
  });

  it('keeps finished executions in memory within a bound, and answers older ones from the journal', async () => {
    const held = () =>
      ctx.app.get(LiveExecutionsService) as unknown as {
        live: Map<string, unknown>;
        kept: { size: number };
      };
    const max = KEEP_FINISHED.maxEntries;
    KEEP_FINISHED.maxEntries = 2; // the store reads its limits from this object
    try {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await ok(client, 'execute_in_task', {
          taskId,
          agentId: 'a1',
          command: ['echo', `run ${i}`],
        });
        ids.push(r.executionId as string);
      }
      // Before, every finished execution stayed, with its handles and buffers, for 10 minutes.
      expect(held().live.size).toBe(0);
      expect(held().kept.size).toBe(2);
      // The first is no longer in memory: poll and wait answer it from the journal.
      const w = await ok(client, 'exec_wait', { executionId: ids[0] });
      expect(w).toMatchObject({ status: 'completed', exitCode: 0, stdout: 'run 0\n' });
      const p = await ok(client, 'exec_poll', { executionId: ids[0], stdoutOffset: 2 });
      expect(p).toMatchObject({ status: 'completed', stdout: 'n 0\n', stdoutOffset: 6 });
      const last = await ok(client, 'exec_poll', { executionId: ids[4], stdoutOffset: 4 });
      expect(last).toMatchObject({ status: 'completed', stdout: '4\n', stdoutOffset: 6 });
    } finally {
      KEEP_FINISHED.maxEntries = max;
    }
  });

  it('records a command once it ran RECORD_AFTER_MS, so that its deadline outlives this process; drops the record when it answers the end', async () => {
    const executions = ctx.app.get(LiveExecutionsService);
    const records = ctx.app.get<RuntimeRecordStore>(RUNTIME_RECORD_STORE);
    const ours = async (id: string) => (await records.get('execution', id))?.status;
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // A quick command costs no record.
    const quick = await executions.run(taskId, { command: ['echo', 'quick'] });
    expect(await ours(quick.executionId)).toBeUndefined();
    // A longer one is recorded while it runs (before its answer)…
    const before = new Set((await records.list('execution')).map((r) => r.id));
    const long = executions.run(taskId, { command: ['sleep', '1.2'], timeoutMs: 60_000 });
    await sleep(RECORD_AFTER_MS + 300);
    const rec = (await records.list('execution')).find((r) => !before.has(r.id));
    expect(rec).toMatchObject({ taskId, status: 'running' });
    const data = rec!.data as { startedAt: string; deadline: number };
    expect(data.deadline).toBe(Date.parse(data.startedAt) + 60_000);
    // …and, answered with its end (nobody continues it by id), no longer.
    expect(await long).toMatchObject({ executionId: rec!.id, status: 'completed', exitCode: 0 });
    await sleep(50);
    expect(await ours(rec!.id)).toBeUndefined();
    // One answered `running` keeps its record, completed at its end.
    const yielded = await executions.run(taskId, { command: ['sleep', '1'], yieldMs: 200 });
    expect(yielded.status).toBe('running');
    expect(await ours(yielded.executionId)).toBe('running');
    expect(await executions.wait(yielded.executionId, 5000)).toMatchObject({ status: 'completed' });
    await sleep(50);
    expect(await ours(yielded.executionId)).toBe('completed');
  });

  it('leaves a command past its deadline to its owner while that process lives on this host, then sweeps it', async () => {
    const executions = ctx.app.get(LiveExecutionsService);
    const records = ctx.app.get<RuntimeRecordStore>(RUNTIME_RECORD_STORE);
    const owner = spawn('sleep', ['30'], { stdio: 'ignore' });
    const exited = new Promise((r) => owner.on('exit', r));
    const id = `exe_owned${Date.now()}`;
    const startedAt = new Date(Date.now() - 10_000).toISOString();
    await records.insert({
      kind: 'execution',
      id,
      taskId,
      status: 'running',
      data: {
        command: ['sleep', '100'],
        startedAt,
        timeoutMs: 5_000,
        deadline: Date.parse(startedAt) + 5_000, // 5 s ago: past DEADLINE_GRACE_MS
        owner: `${hostname()}:${owner.pid}`,
      },
      updatedAt: startedAt,
    });
    try {
      // Its owner (a live process here) kills it itself: before, a second server stepped in 2 s
      // after the deadline while the owner was still at it.
      const first = await executions.sweep();
      expect(first.finished).not.toContain(id);
      expect((await records.get('execution', id))?.status).toBe('running');
      expect(first.next - Date.now()).toBeLessThanOrEqual(DEADLINE_GRACE_MS);
    } finally {
      owner.kill('SIGKILL');
      await exited;
    }
    // Its owner gone, the sweep takes it over (here: no such command in the sandbox, so lost).
    const second = await executions.sweep();
    expect(second.finished).toContain(id);
    expect((await records.get('execution', id))?.status).not.toBe('running');
  });

  it('sends progress while a long command runs', async () => {
    const progress: number[] = [];
    const r = await client.callTool(
      {
        name: 'execute_in_task',
        arguments: { taskId, agentId: 'a1', command: ['sleep', '2.2'] },
      },
      undefined,
      { onprogress: (p) => progress.push(p.progress) },
    );
    expect(r.isError).toBeFalsy();
    expect(progress.length).toBeGreaterThanOrEqual(1);
  });

  it('writes and reads files, text and binary', async () => {
    expect(
      await ok(client, 'write_file', {
        taskId,
        agentId: 'a1',
        path: 'notes/todo.md',
        content: 'é\n',
      }),
    ).toEqual({ path: 'notes/todo.md', bytes: 3 });
    expect(await ok(client, 'read_file', { taskId, path: 'notes/todo.md' })).toEqual({
      path: 'notes/todo.md',
      content: 'é\n',
      encoding: 'utf8',
      bytes: 3,
      truncated: false,
    });
    const bin = Buffer.from([0, 1, 2, 255]).toString('base64');
    await ok(client, 'write_file', {
      taskId,
      agentId: 'a1',
      path: 'b.bin',
      content: bin,
      encoding: 'base64',
    });
    expect(await ok(client, 'read_file', { taskId, path: 'b.bin', maxBytes: 2 })).toMatchObject({
      content: Buffer.from([0, 1]).toString('base64'),
      encoding: 'base64',
      bytes: 4,
      truncated: true,
    });
  });

  it('refuses an agent that is not attached to the exclusive task', async () => {
    const r = await call(client, 'execute_in_task', {
      taskId,
      agentId: 'intruder',
      command: 'pwd',
    });
    expect(r.isError).toBe(true);
    expect(errorText(r)).toMatch(/^(LOCK_HELD|NOT_ATTACHED): .*'a1'/);
    const w = await call(client, 'write_file', {
      taskId,
      agentId: 'intruder',
      path: 'x',
      content: 'x',
    });
    expect(errorText(w)).toMatch(/^(LOCK_HELD|NOT_ATTACHED): /);
  });
});

describe('create_task_sandbox while the image is pulled', () => {
  it('relays the pull as progress notifications', async () => {
    const ctx = await mcpApp(
      { runtime: 'memory' },
      { sandboxRuntime: async () => new MemorySandboxRuntime({ pullable: ['acme/tool:1'] }) },
    );
    const client = await inMemoryClient(ctx.registry);
    try {
      const seen: string[] = [];
      const r = await client.callTool(
        { name: 'create_task_sandbox', arguments: { name: 'pulls', image: 'acme/tool:1' } },
        undefined,
        { onprogress: (p) => seen.push(p.message ?? '') },
      );
      expect(r.isError).toBeFalsy();
      expect(seen[0]).toMatch(/^pulling acme\/tool:1: Downloading/);
      expect(seen.at(-1)).toMatch(/: done$/);
    } finally {
      await client.close();
      await ctx.close();
    }
  });
});

describe('text blocks a model reads', () => {
  it('show command output and file text raw, not as escaped JSON', async () => {
    const ctx = await mcpApp();
    const client = await inMemoryClient(ctx.registry);
    try {
      const t = await ok(client, 'create_task_sandbox', { name: 'text' });
      await ok(client, 'attach_agent_to_task', { taskId: t.taskId, agentId: 'a' });
      await ok(client, 'resume_task', { taskId: t.taskId, agentId: 'a' });
      const r = await call(client, 'execute_in_task', {
        taskId: t.taskId,
        agentId: 'a',
        command: ['echo', 'line "one"'],
      });
      expect(textOf(r)).toMatch(
        /^Command exited 0 in \d+ms \(execution exe_\w+\); .*\n\[stdout\]\nline "one"$/,
      );
      await ok(client, 'write_file', {
        taskId: t.taskId,
        agentId: 'a',
        path: 'a.txt',
        content: 'x\ny\n',
      });
      expect(textOf(await call(client, 'read_file', { taskId: t.taskId, path: 'a.txt' }))).toBe(
        'a.txt: 4 B.\nx\ny\n',
      );
    } finally {
      await client.close();
      await ctx.close();
    }
  });
});
