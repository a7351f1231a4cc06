import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DomainError } from '../../src/domain/errors';
import { CheckpointsService } from '../../src/modules/history/checkpoints.service';
import { AgentAttachmentService } from '../../src/modules/locks/agent-attachment.service';
import { DecisionsService } from '../../src/modules/history/decisions.service';
import { ExecutionsService } from '../../src/modules/history/executions.service';
import { TaskLogService } from '../../src/modules/history/task-log.service';
import { TaskStateService } from '../../src/modules/history/task-state.service';
import { TasksService } from '../../src/modules/tasks/tasks.service';
import { OpenCodeToolsModule } from '../../src/opencode-tools.module';
import { tempHome } from '../helpers/temp-home';

async function boot(home: string, extra: Record<string, unknown> = {}) {
  @Module({
    imports: [
      OpenCodeToolsModule.forRoot({
        home,
        persistence: { logFsync: 'off' },
        ...extra,
      }),
    ],
  })
  class TestModule {}
  return NestFactory.createApplicationContext(TestModule, { logger: false });
}

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e) => (e instanceof DomainError ? e.code : `unexpected: ${e}`),
  );

describe('task memory services (SQLite + JSONL under a temp home)', () => {
  let home: ReturnType<typeof tempHome>;
  let app: INestApplicationContext;
  let tasks: TasksService;
  let state: TaskStateService;
  let logs: TaskLogService;
  let decisions: DecisionsService;
  let executions: ExecutionsService;
  let checkpoints: CheckpointsService;

  beforeEach(async () => {
    home = tempHome();
    app = await boot(home.dir);
    tasks = app.get(TasksService);
    state = app.get(TaskStateService);
    logs = app.get(TaskLogService);
    decisions = app.get(DecisionsService);
    executions = app.get(ExecutionsService);
    checkpoints = app.get(CheckpointsService);
  });
  afterEach(async () => {
    await app.close();
    home.cleanup();
  });

  const messages = async (taskId: string, includeRewound = true) =>
    (await logs.read(taskId, { includeRewound })).entries.map((e) => e.message);

  it('writes one log line per lifecycle transition through after-hooks', async () => {
    const t = await tasks.create({ name: 'a' });
    await tasks.start(t.id);
    await tasks.complete(t.id, { message: 'done' });
    const r = await logs.read(t.id);
    expect(r.entries.map((e) => [e.level, e.message])).toEqual([
      ['info', 'task created'],
      ['info', 'task started'],
      ['info', 'task completed'],
    ]);
    expect(r.entries[2].data).toMatchObject({ transition: { from: 'running', to: 'completed' } });
    const f = await tasks.create({ name: 'b' });
    await tasks.start(f.id);
    await tasks.fail(f.id, { error: 'boom' });
    expect((await logs.read(f.id, { level: 'error' })).entries[0].message).toBe('task failed');
  });

  it('decisions: recorded, filtered by agent; bad input and unknown tasks write nothing', async () => {
    const t = await tasks.create({ name: 'a' });
    await decisions.record({
      taskId: t.id,
      agentId: 'claude',
      decision: 'use pnpm',
      reasoning: 'lockfile',
    });
    await decisions.record({
      taskId: t.id,
      agentId: 'gpt',
      decision: 'pin node',
      metadata: { v: 20 },
    });
    expect((await decisions.list({ taskId: t.id, agentId: 'gpt' })).items[0]).toMatchObject({
      decision: 'pin node',
      reasoning: '',
      metadata: { v: 20 },
    });
    expect(await code(decisions.record({ taskId: t.id, agentId: 'claude', decision: '   ' }))).toBe(
      'VALIDATION',
    );
    expect(await code(decisions.record({ taskId: t.id, agentId: 'claude' } as never))).toBe(
      'VALIDATION',
    );
    expect(await code(decisions.record({ taskId: 'tsk_nope', agentId: 'a', decision: 'x' }))).toBe(
      'NOT_FOUND',
    );
    expect((await decisions.list({ taskId: t.id })).total).toBe(2);
  });

  it('state: versioned, optimistic, size-limited', async () => {
    const t = await tasks.create({ name: 'a' });
    expect(await state.get(t.id)).toBeNull();
    const v1 = await state.put(t.id, { step: 1 }, 0);
    expect(await code(state.put(t.id, { step: 2 }, 0))).toBe('CONFLICT');
    await state.put(t.id, { step: 2 }, v1.version);
    expect(await code(state.put(t.id, { blob: 'x'.repeat(2 * 1024 * 1024) }, 2))).toBe(
      'VALIDATION',
    );
    expect(await code(state.put(t.id, [1, 2] as never, 2))).toBe('VALIDATION');
    expect(await state.get(t.id)).toMatchObject({ version: 2, data: { step: 2 } });
    expect(await code(state.put('tsk_nope', {}, 0))).toBe('NOT_FOUND');
  });

  it('executions: recorded and listed; unknown task refused', async () => {
    const t = await tasks.create({ name: 'a' });
    const base = {
      taskId: t.id,
      command: ['false'],
      startedAt: new Date().toISOString(),
      durationMs: 3,
      exitCode: 1,
      timedOut: false,
      truncated: false,
      stdoutBytes: 0,
      stderrBytes: 0,
    };
    const rec = await executions.record({ ...base, id: 'exe_1' });
    expect(rec).toMatchObject({ stdoutHead: '', exitCode: 1 });
    expect((await executions.list({ taskId: t.id, failedOnly: true })).total).toBe(1);
    expect(await code(executions.record({ ...base, id: 'exe_2', taskId: 'tsk_nope' }))).toBe(
      'NOT_FOUND',
    );
    expect(await code(executions.record({ ...base, id: 'exe_3', durationMs: -1 }))).toBe(
      'VALIDATION',
    );
  });

  it('recordRun (the path of the sandbox service) stores what record does and keeps its limits', async () => {
    const t = await tasks.create({ name: 'a' });
    const base = {
      taskId: t.id,
      command: 'echo hi',
      startedAt: new Date().toISOString(),
      durationMs: 1.5,
      exitCode: 0,
      timedOut: false,
      truncated: false,
      stdoutBytes: 3,
      stderrBytes: 0,
      stdoutHead: 'hi\n',
      stdoutTail: '',
      stderrHead: '',
      stderrTail: '',
    };
    const viaRecord = await executions.record({ ...base, id: 'exe_a', agentId: 'ag' });
    const viaRun = await executions.recordRun({ ...base, id: 'exe_b', agentId: 'ag' });
    const strip = ({ id, seq, ...rest }: { id: string; seq?: number }) => (void id, void seq, rest);
    expect(strip(viaRun)).toEqual(strip(viaRecord));
    expect(strip(await executions.get('exe_b'))).toEqual(strip(await executions.get('exe_a')));
    // Input a caller sets still meets the schema: an oversized command is refused, an agent id
    // with spaces is trimmed, and a task that is gone is not journaled.
    const big = 'x'.repeat(70 * 1024);
    expect(await code(executions.recordRun({ ...base, id: 'exe_c', command: big }))).toBe(
      'VALIDATION',
    );
    expect((await executions.recordRun({ ...base, id: 'exe_d', agentId: ' ag ' })).agentId).toBe(
      'ag',
    );
    expect(await code(executions.recordRun({ ...base, id: 'exe_e', taskId: 'tsk_nope' }))).toBe(
      'NOT_FOUND',
    );
    expect((await executions.list({ taskId: t.id })).total).toBe(3);
  });

  it('restore rewinds state, marks later history rewound (not duplicated), reopens a finished task', async () => {
    const t = await tasks.create({ name: 'a' });
    await tasks.start(t.id);
    await state.put(t.id, { step: 1 }, 0);
    await decisions.record({ taskId: t.id, agentId: 'claude', decision: 'before' });
    const progress: string[] = [];
    const cp = await checkpoints.create({ taskId: t.id, description: 'step 1' }, (s) =>
      progress.push(s),
    );
    expect(progress.at(-1)).toMatch(/done/);
    await state.put(t.id, { step: 2 }, 1);
    await decisions.record({ taskId: t.id, agentId: 'claude', decision: 'after' });
    await logs.write(t.id, 'info', 'work after the checkpoint');
    await tasks.complete(t.id);

    const r = await checkpoints.restore(t.id, cp.id);
    expect(r.task.status).toBe('pending');
    expect(r.rewound.decisions).toBe(1);
    expect(await state.get(t.id)).toMatchObject({ data: { step: 1 }, version: 3 });
    const ds = (await decisions.list({ taskId: t.id })).items;
    expect(ds.map((d) => [d.decision, d.rewoundBy])).toEqual([
      ['before', undefined],
      ['after', cp.id],
    ]);
    const all = await logs.read(t.id);
    const after = all.entries.find((e) => e.message === 'work after the checkpoint')!;
    expect(after.rewoundBy).toBe(cp.id);
    expect(all.entries.filter((e) => e.message === 'work after the checkpoint')).toHaveLength(1);
    expect(await messages(t.id, false)).toEqual([
      'task created',
      'task started',
      `checkpoint ${cp.id}: step 1`,
      `restored to checkpoint ${cp.id}: step 1`,
    ]);
    await tasks.start(t.id); // a restored task can be resumed
    expect((await checkpoints.list(t.id)).map((c) => c.id)).toEqual([cp.id]);
  });

  it('a fork evolves independently of its parent', async () => {
    const parent = await tasks.create({ name: 'parent', metadata: { repo: 'api' } });
    await tasks.start(parent.id);
    await state.put(parent.id, { step: 1 }, 0);
    await decisions.record({ taskId: parent.id, agentId: 'claude', decision: 'shared' });
    const cp = await checkpoints.create({ taskId: parent.id, description: 'fork point' });
    await decisions.record({ taskId: parent.id, agentId: 'claude', decision: 'parent only' });

    const child = await checkpoints.fork(parent.id, cp.id, 'child');
    expect(child).toMatchObject({ name: 'child', status: 'pending' });
    expect(child.metadata).toMatchObject({
      repo: 'api',
      forkedFrom: { taskId: parent.id, checkpointId: cp.id },
    });
    expect((await state.get(child.id))?.data).toEqual({ step: 1 });
    expect((await decisions.list({ taskId: child.id })).items.map((d) => d.decision)).toEqual([
      'shared',
    ]);
    expect(await messages(child.id)).toEqual([
      'task created',
      'task started',
      `checkpoint ${cp.id}: fork point`,
      'task created',
      `forked from task ${parent.id} at checkpoint ${cp.id}`,
    ]);

    // Evolve both; neither sees the other's changes.
    await state.put(child.id, { step: 'child-2' }, 1);
    await state.put(parent.id, { step: 'parent-2' }, 1);
    await decisions.record({ taskId: child.id, agentId: 'gpt', decision: 'child only' });
    await tasks.start(child.id);
    await tasks.complete(child.id);
    expect((await state.get(parent.id))?.data).toEqual({ step: 'parent-2' });
    expect((await state.get(child.id))?.data).toEqual({ step: 'child-2' });
    expect((await decisions.list({ taskId: parent.id })).items.map((d) => d.decision)).toEqual([
      'shared',
      'parent only',
    ]);
    expect((await tasks.get(parent.id)).status).toBe('running');
    expect(await messages(parent.id)).not.toContain('task completed');
    expect(await checkpoints.list(child.id)).toEqual([]);

    // Deleting the parent leaves the fork whole.
    await tasks.delete(parent.id, { force: true });
    expect((await state.get(child.id))?.data).toEqual({ step: 'child-2' });
    expect((await decisions.list({ taskId: child.id })).total).toBe(2);
  });

  it('bad input gives clear errors and writes nothing', async () => {
    const t = await tasks.create({ name: 'a' });
    const cp = await checkpoints.create({ taskId: t.id, description: 'one' });
    const before = await logs.read(t.id);

    const unknown = await checkpoints.restore(t.id, 'chk_unknown').catch((e) => e);
    expect(unknown).toBeInstanceOf(DomainError);
    expect(unknown.code).toBe('NOT_FOUND');
    expect(unknown.message).toMatch(/checkpoint 'chk_unknown' not found/);
    expect(await code(checkpoints.fork(t.id, 'chk_unknown'))).toBe('NOT_FOUND');
    expect(await code(checkpoints.create({ taskId: t.id, description: '' }))).toBe('VALIDATION');
    const other = await tasks.create({ name: 'other' });
    expect(await code(checkpoints.restore(other.id, cp.id))).toBe('NOT_FOUND'); // not its checkpoint
    expect((await logs.read(t.id)).entries).toEqual(before.entries);
    expect((await tasks.list()).total).toBe(2); // no fork was left behind

    await tasks.cancel(t.id);
    await tasks.delete(t.id);
    const gone = await checkpoints.create({ taskId: t.id, description: 'late' }).catch((e) => e);
    expect(gone.code).toBe('NOT_FOUND');
    expect(gone.message).toMatch(/task/);
    expect(existsSync(join(home.dir, 'checkpoints', t.id))).toBe(false);
    expect(existsSync(join(home.dir, 'logs', `${t.id}.jsonl`))).toBe(false);
    expect(await code(checkpoints.list(t.id))).toBe('NOT_FOUND');
  });

  it('deleting a task removes its checkpoints, logs, state, decisions and executions', async () => {
    const t = await tasks.create({ name: 'a' });
    await state.put(t.id, { a: 1 }, 0);
    await decisions.record({ taskId: t.id, agentId: 'x', decision: 'y' });
    await checkpoints.create({ taskId: t.id, description: 'c1' });
    await checkpoints.create({ taskId: t.id, description: 'c2' });
    expect(readdirSync(join(home.dir, 'checkpoints', t.id))).toHaveLength(2);
    await tasks.delete(t.id, { force: true });
    expect(existsSync(join(home.dir, 'checkpoints', t.id))).toBe(false);
    expect(readdirSync(join(home.dir, 'logs')).filter((f) => f.startsWith(t.id))).toEqual([]);
  });

  it('an agent named on a checkpoint, restore or state write must be attached', async () => {
    const t = await tasks.create({ name: 'a' });
    expect(
      await code(checkpoints.create({ taskId: t.id, description: 'x', agentId: 'claude' })),
    ).toBe('NOT_ATTACHED');
    expect(await code(state.put(t.id, { a: 1 }, 0, { agentId: 'claude' }))).toBe('NOT_ATTACHED');
    expect(await checkpoints.list(t.id)).toEqual([]);
    expect(await state.get(t.id)).toBeNull();
    await app.get(AgentAttachmentService).attach(t.id, 'claude');
    const cp = await checkpoints.create({ taskId: t.id, description: 'x', agentId: 'claude' });
    expect(cp.agentId).toBe('claude');
    await state.put(t.id, { a: 1 }, 0, { agentId: 'claude' });
    expect(await code(checkpoints.restore(t.id, cp.id, undefined, { agentId: 'gpt' }))).not.toBe(
      'ok',
    );
    await checkpoints.restore(t.id, cp.id, undefined, { agentId: 'claude' });
  });

  it('deleteCheckpoint removes one checkpoint', async () => {
    const t = await tasks.create({ name: 'a' });
    const a = await checkpoints.create({ taskId: t.id, description: 'a' });
    const b = await checkpoints.create({ taskId: t.id, description: 'b' });
    await checkpoints.delete(t.id, a.id);
    expect((await checkpoints.list(t.id)).map((c) => c.id)).toEqual([b.id]);
    expect(await code(checkpoints.delete(t.id, a.id))).toBe('NOT_FOUND');
  });

  it('follow yields existing then new entries until aborted', async () => {
    const t = await tasks.create({ name: 'a' });
    const ac = new AbortController();
    const seen: string[] = [];
    const done = (async () => {
      for await (const e of logs.follow(t.id, {}, { signal: ac.signal, pollMs: 20 })) {
        seen.push(e.message);
        if (seen.length === 3) ac.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 50));
    await logs.write(t.id, 'info', 'one');
    await logs.write(t.id, 'warn', 'two');
    await done;
    expect(seen).toEqual(['task created', 'one', 'two']);
  });

  it('follow rides out failed polls (a database hiccup) from where it was, and ends when the task is gone', async () => {
    const t = await tasks.create({ name: 'a' });
    const service = logs as unknown as { read: TaskLogService['read'] };
    const read = service.read.bind(logs);
    let failing = 0;
    service.read = (...args) =>
      failing-- > 0 ? Promise.reject(new Error('db blip')) : read(...args);
    try {
      const ac = new AbortController();
      const seen: string[] = [];
      const errors: string[] = [];
      let firstSeen!: () => void;
      const started = new Promise<void>((r) => (firstSeen = r));
      const done = (async () => {
        for await (const e of logs.follow(
          t.id,
          {},
          { signal: ac.signal, pollMs: 10, onError: (e) => errors.push(e.message) },
        )) {
          seen.push(e.message);
          if (seen.length === 1) firstSeen();
          if (seen.length === 3) ac.abort();
        }
      })();
      await started; // past its first read: the polls are what fail now
      failing = 3;
      await logs.write(t.id, 'info', 'one');
      await logs.write(t.id, 'warn', 'two');
      await done;
      expect(seen).toEqual(['task created', 'one', 'two']);
      expect(errors).toEqual(['db blip', 'db blip', 'db blip']);
      // The task's own error is not retried.
      const gone = await tasks.create({ name: 'b' });
      const follow = logs.follow(gone.id, {}, { pollMs: 10 })[Symbol.asyncIterator]();
      expect((await follow.next()).value).toMatchObject({ message: 'task created' });
      await tasks.delete(gone.id, { force: true });
      await expect(follow.next()).rejects.toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      delete (service as Partial<typeof service>).read; // the class's own again
    }
  });
});

describe('automatic checkpoints through a hook', () => {
  it('takes a checkpoint before complete when configured', async () => {
    const home = tempHome();
    const app = await boot(home.dir, {
      persistence: { logFsync: 'off', autoCheckpoint: ['beforeTaskComplete'] },
    });
    try {
      const tasks = app.get(TasksService);
      const t = await tasks.create({ name: 'a' });
      await tasks.start(t.id);
      await tasks.complete(t.id);
      const cps = await app.get(CheckpointsService).list(t.id);
      expect(cps.map((c) => [c.description, c.task.status])).toEqual([
        ['automatic, beforeTaskComplete', 'running'],
      ]);
    } finally {
      await app.close();
      home.cleanup();
    }
  });
});
