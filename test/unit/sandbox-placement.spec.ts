import type { INestApplicationContext } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { join } from 'node:path';
import { MemorySandboxRuntime } from '../../src/adapters/memory/memory-sandbox.runtime';
import { ReconcilerService } from '../../src/modules/docker/reconciler.service';
import { SandboxService } from '../../src/modules/docker/sandbox.service';
import { WarmPoolService } from '../../src/modules/docker/warm-pool.service';
import { TasksService } from '../../src/modules/tasks/tasks.service';
import { OpenCodeToolsModule } from '../../src/opencode-tools.module';
import { tempHome } from '../helpers/temp-home';

/** One orchestrator: the shared SQLite registry, and an engine of its own (a memory fake). */
async function instance(home: string, engineId: string) {
  const runtime = new MemorySandboxRuntime({ allImages: true, engineId });
  @Module({
    imports: [
      OpenCodeToolsModule.forRoot(
        {
          home,
          database: { driver: 'sqlite', path: join(home, 'db.sqlite') },
          instanceId: `instance-on-${engineId}`,
          sandbox: { runtime: 'memory', orphanGraceMs: 0 },
        },
        { sandboxRuntime: async () => runtime },
      ),
    ],
  })
  class M {}
  const app = await NestFactory.createApplicationContext(M, { logger: false });
  return {
    app,
    runtime,
    tasks: app.get(TasksService),
    sandboxes: app.get(SandboxService),
    pool: app.get(WarmPoolService),
    reconciler: app.get(ReconcilerService),
  };
}

describe('sandbox placement: instances with separate engines on one registry (memory engines)', () => {
  const home = tempHome('oct-placement-');
  let a: Awaited<ReturnType<typeof instance>>;
  let b: Awaited<ReturnType<typeof instance>>;
  const apps: INestApplicationContext[] = [];

  beforeAll(async () => {
    a = await instance(home.dir, 'engine-a');
    b = await instance(home.dir, 'engine-b');
    apps.push(a.app, b.app);
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    home.cleanup();
  });

  it("the reconciler does not take another engine's sandbox for a vanished one", async () => {
    const t = await a.tasks.create({ name: 'on a', sandbox: {} });
    await a.tasks.start(t.id);
    expect(await a.runtime.inspect(t.id)).toMatchObject({ state: 'running' });
    const report = await b.reconciler.reconcile();
    expect(report.actions.filter((x) => x.taskId === t.id)).toEqual([]);
    expect((await b.tasks.get(t.id)).status).toBe('running');
    // Its own engine's reconciler still repairs it when it really vanishes.
    await a.runtime.remove(t.id);
    const own = await a.reconciler.reconcile();
    expect(own.actions).toContainEqual(
      expect.objectContaining({ kind: 'failed-task', taskId: t.id }),
    );
  });

  it('exec and status through the wrong instance name the other engine; resume there re-creates nothing', async () => {
    const t = await a.tasks.create({ name: 'exec on a', sandbox: {} });
    await expect(b.sandboxes.exec(t.id, { command: ['true'] })).rejects.toMatchObject({
      code: 'SANDBOX_UNAVAILABLE',
      message: expect.stringMatching(/runs on the Docker engine of host memory \(engine engine-a/),
    });
    expect(await b.sandboxes.status(t.id)).toMatchObject({
      sandbox: null,
      elsewhere: { engineId: 'engine-a', instanceId: 'instance-on-engine-a' },
    });
    await a.runtime.stop(t.id, 0);
    await b.tasks.start(t.id); // B's start hook leaves A's sandbox to A
    expect(await b.runtime.inspect(t.id)).toBeNull();
    const r = await a.reconciler.reconcile();
    expect(r.actions).toContainEqual(expect.objectContaining({ kind: 'started', taskId: t.id }));
    expect((await a.sandboxes.exec(t.id, { command: ['true'] })).exitCode).toBe(0);
  });

  it("each engine keeps its own warm pool; one instance never claims another's member", async () => {
    await a.pool.resize(1);
    await a.pool.fill();
    expect((await a.pool.status()).profiles).toEqual([expect.objectContaining({ idle: 1 })]);
    expect((await b.pool.status()).profiles).toEqual([]);
    const onB = await b.tasks.create({ name: 'cold on b', sandbox: {} });
    expect(await b.runtime.inspect(onB.id)).toMatchObject({ state: 'running' });
    expect((await a.pool.status()).profiles[0]).toMatchObject({ idle: 1 });
    const onA = await a.tasks.create({ name: 'warm on a', sandbox: {} });
    expect((await a.runtime.inspect(onA.id))?.labels['opencode-tools.pool']).toBeDefined();
    await a.pool.resize(0);
  });
});
