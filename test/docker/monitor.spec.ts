import type { INestApplicationContext } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { HooksService } from '../../src/modules/hooks/hooks.service';
import { SandboxMonitorService } from '../../src/modules/docker/sandbox-monitor.service';
import { SANDBOX_EVENTS, type SandboxAlert } from '../../src/modules/docker/sandbox.events';
import { SandboxService } from '../../src/modules/docker/sandbox.service';
import { TasksService } from '../../src/modules/tasks/tasks.service';
import { OpenCodeToolsModule } from '../../src/opencode-tools.module';
import { tempHome } from '../helpers/temp-home';
import { describeDocker, TEST_IMAGE } from './engine';

jest.setTimeout(120_000);

describeDocker('resource monitoring (real engine)', () => {
  const home = tempHome('oct-monitor-');
  let app: INestApplicationContext;
  const alerts: SandboxAlert[] = [];
  const hooked: string[] = [];

  beforeAll(async () => {
    @Module({
      imports: [
        OpenCodeToolsModule.forRoot({
          home: home.dir,
          database: { driver: 'memory' },
          sandboxImage: TEST_IMAGE,
        }),
      ],
    })
    class M {}
    app = await NestFactory.createApplicationContext(M, { logger: false });
    app.get(EventEmitter2).on(SANDBOX_EVENTS.alert, (a: SandboxAlert) => alerts.push(a));
    app.get(HooksService).register('afterSandboxAlert', (ctx) => {
      hooked.push(`${ctx.task.name}:${(ctx.input as unknown as SandboxAlert).kind}`);
    });
  });
  afterAll(async () => {
    const tasks = app.get(TasksService);
    for (const t of (await tasks.list({ limit: 100 })).items) {
      await tasks.delete(t.id, { force: true }).catch(() => undefined);
    }
    await app.close();
    home.cleanup();
  });

  it('raises memoryHigh and pidsAtLimit once per crossing, and oomKilled for an OOM-killed command', async () => {
    const tasks = app.get(TasksService);
    const sandboxes = app.get(SandboxService);
    const monitor = app.get(SandboxMonitorService);
    const mem = await tasks.create({ name: 'mem', sandbox: { limits: { memoryMb: 64 } } });
    const pids = await tasks.create({ name: 'pids', sandbox: { limits: { pids: 16 } } });
    // 60 MB in /dev/shm (tmpfs pages count against the memory limit); 16 processes in the other.
    await sandboxes.exec(mem.id, {
      command: { shell: 'head -c 61000000 /dev/zero > /dev/shm/fill' },
    });
    await sandboxes.exec(pids.id, {
      command: { shell: 'for i in $(seq 20); do sleep 60 & done 2>/dev/null; true' },
    });
    await new Promise((r) => setTimeout(r, 1500));
    const raised = await monitor.sample();
    const kinds = (id: string) => raised.filter((a) => a.taskId === id).map((a) => a.kind);
    expect(kinds(mem.id)).toContain('memoryHigh');
    expect(kinds(pids.id)).toContain('pidsAtLimit');
    const memAlert = raised.find((a) => a.taskId === mem.id)!;
    expect(memAlert.stats!.memoryPercent).toBeGreaterThanOrEqual(90);
    expect(memAlert.message).toMatch(/memory at .*% of the 64 MiB limit/);
    expect(alerts).toEqual(expect.arrayContaining(raised));
    expect(hooked).toEqual(expect.arrayContaining(['mem:memoryHigh', 'pids:pidsAtLimit']));
    // Still over the threshold: not raised again.
    expect((await monitor.sample()).filter((a) => a.kind !== 'oomKilled')).toEqual([]);
    expect(monitor.latest.get(mem.id)?.memoryPercent).toBeGreaterThanOrEqual(90);

    await sandboxes.exec(mem.id, { command: ['rm', '/dev/shm/fill'] });
    const hog = await sandboxes.exec(mem.id, {
      command: { shell: 'a=xxxxxxxx; while :; do a="$a$a"; done' },
    });
    expect(hog.oomKilled).toBe(true);
    expect(alerts.some((a) => a.kind === 'oomKilled' && a.taskId === mem.id)).toBe(true);
    expect(hooked).toContain('mem:oomKilled');
  });
});
