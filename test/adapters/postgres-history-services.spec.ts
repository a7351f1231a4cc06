import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Client } from 'pg';
import { createPostgresAdapters } from '../../src/adapters/postgres';
import { CheckpointsService } from '../../src/modules/history/checkpoints.service';
import { DecisionsService } from '../../src/modules/history/decisions.service';
import { TaskLogService } from '../../src/modules/history/task-log.service';
import { TaskStateService } from '../../src/modules/history/task-state.service';
import { TasksService } from '../../src/modules/tasks/tasks.service';
import { OpenCodeToolsModule } from '../../src/opencode-tools.module';
import { describePg, freshDatabase } from '../helpers/postgres';
import { tempHome } from '../helpers/temp-home';

/** The task-memory services on the Postgres family: checkpoint, restore, fork and purge end to end. */
describePg('task memory services on Postgres', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let home: ReturnType<typeof tempHome>;
  let app: INestApplicationContext;
  let tasks: TasksService;
  let state: TaskStateService;
  let logs: TaskLogService;
  let decisions: DecisionsService;
  let checkpoints: CheckpointsService;

  beforeEach(async () => {
    db = await freshDatabase();
    home = tempHome();
    @Module({
      imports: [
        OpenCodeToolsModule.forRoot(
          { home: home.dir },
          {
            adapters: () =>
              createPostgresAdapters({
                url: db.url,
                poolSize: 4,
                connectTimeoutMs: 5000,
                home: home.dir,
              }),
          },
        ),
      ],
    })
    class TestModule {}
    app = await NestFactory.createApplicationContext(TestModule, { logger: false });
    tasks = app.get(TasksService);
    state = app.get(TaskStateService);
    logs = app.get(TaskLogService);
    decisions = app.get(DecisionsService);
    checkpoints = app.get(CheckpointsService);
  });
  afterEach(async () => {
    await app.close();
    await db.drop();
    home.cleanup();
  });

  const messages = async (taskId: string, includeRewound = true) =>
    (await logs.read(taskId, { includeRewound })).entries.map((e) => e.message);

  it('restore rewinds state and marks later history rewound, not duplicated', async () => {
    const t = await tasks.create({ name: 'a' });
    await tasks.start(t.id);
    await state.put(t.id, { step: 1 }, 0);
    await decisions.record({ taskId: t.id, agentId: 'claude', decision: 'before' });
    const cp = await checkpoints.create({ taskId: t.id, description: 'step 1' });
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
    expect(await messages(t.id, false)).toEqual([
      'task created',
      'task started',
      `checkpoint ${cp.id}: step 1`,
      `restored to checkpoint ${cp.id}: step 1`,
    ]);
    expect((await messages(t.id)).filter((m) => m === 'work after the checkpoint')).toHaveLength(1);
  });

  it('a fork starts from the parent’s history before the checkpoint, then its own', async () => {
    const parent = await tasks.create({ name: 'parent' });
    await tasks.start(parent.id);
    await state.put(parent.id, { step: 1 }, 0);
    await decisions.record({ taskId: parent.id, agentId: 'claude', decision: 'shared' });
    const cp = await checkpoints.create({ taskId: parent.id, description: 'fork point' });
    await decisions.record({ taskId: parent.id, agentId: 'claude', decision: 'parent only' });
    await logs.write(parent.id, 'info', 'parent only');

    const child = await checkpoints.fork(parent.id, cp.id, 'child');
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
    await tasks.delete(parent.id, { force: true });
    expect((await state.get(child.id))?.data).toEqual({ step: 1 });
    expect(await messages(child.id)).toHaveLength(5);
  });

  it('deleting a task removes its checkpoints, logs, state and decisions', async () => {
    const t = await tasks.create({ name: 'a' });
    await state.put(t.id, { a: 1 }, 0);
    await decisions.record({ taskId: t.id, agentId: 'x', decision: 'y' });
    await checkpoints.create({ taskId: t.id, description: 'c1' });
    await tasks.delete(t.id, { force: true });
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      for (const table of [
        'task_state',
        'decisions',
        'checkpoints',
        'task_logs',
        'task_log_heads',
      ]) {
        const { rows } = await c.query(`SELECT count(*)::int AS n FROM ${table}`);
        expect([table, rows[0].n]).toEqual([table, 0]);
      }
    } finally {
      await c.end();
    }
  });
});
