import { Injectable, Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { OnEvent } from '@nestjs/event-emitter';
import { writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { DomainError, HookVetoError } from '../../src/domain/errors';
import { HooksService } from '../../src/modules/hooks/hooks.service';
import type { HookContext } from '../../src/modules/hooks/hook.types';
import { TaskHook } from '../../src/modules/hooks/task-hook.decorator';
import { TasksService } from '../../src/modules/tasks/tasks.service';
import { OpenCodeToolsModule } from '../../src/opencode-tools.module';
import { tempHome } from '../helpers/temp-home';

const calls: string[] = [];

@Injectable()
class DecoratedHooks {
  @TaskHook('beforeTaskStart', { priority: 50 })
  second(ctx: HookContext) {
    calls.push(`decorated:${ctx.event}:${ctx.task.status}`);
  }
  @TaskHook('afterTaskComplete', { priority: 1, name: 'after-first' })
  afterFirst(ctx: HookContext) {
    calls.push(`after-first:${ctx.task.status}`);
  }
  @OnEvent('opencode.afterTaskComplete')
  plainListener(ctx: HookContext) {
    calls.push(`on-event:${ctx.task.status}`);
  }
}

async function boot(home: string, hooksFile?: string): Promise<INestApplicationContext> {
  @Module({
    imports: [
      OpenCodeToolsModule.forRoot({
        home,
        database: { driver: 'memory' },
        hooksFile,
        hookTimeoutMs: 5000,
      }),
    ],
    providers: [DecoratedHooks],
  })
  class TestModule {}
  return NestFactory.createApplicationContext(TestModule, { logger: false });
}

describe('TasksService lifecycle and hooks', () => {
  let app: INestApplicationContext;
  let tasks: TasksService;
  let hooks: HooksService;
  const home = tempHome();

  beforeEach(async () => {
    calls.length = 0;
    app = await boot(home.dir);
    tasks = app.get(TasksService);
    hooks = app.get(HooksService);
  });
  afterEach(() => app.close());
  afterAll(() => home.cleanup());

  it('walks the lifecycle and records timestamps, result and error', async () => {
    const t = await tasks.create({ name: '  build  ', owner: 'alice', metadata: { k: 1 } });
    expect(t).toMatchObject({ name: 'build', status: 'pending', version: 1, mode: 'exclusive' });
    const running = await tasks.start(t.id);
    expect(running.startedAt).toBeDefined();
    const done = await tasks.complete(t.id, { result: { pr: 7 }, message: 'merged' });
    expect(done).toMatchObject({
      status: 'completed',
      result: { message: 'merged', pr: 7 },
      version: 3,
    });
    expect(done.endedAt).toBeDefined();
    const f = await tasks.create({ name: 'f' });
    await tasks.start(f.id);
    expect(await tasks.fail(f.id, { error: 'boom' })).toMatchObject({
      status: 'failed',
      error: 'boom',
    });
    const c = await tasks.create({ name: 'c' });
    expect(await tasks.cancel(c.id, { reason: 'dup' })).toMatchObject({
      status: 'cancelled',
      error: 'cancelled: dup',
    });
  });

  it('rejects bad input naming the field, and writes nothing', async () => {
    await expect(tasks.create({ name: '' })).rejects.toThrow('name: must not be empty');
    await expect(tasks.create({ name: 'x'.repeat(201) })).rejects.toThrow(
      'name: must be at most 200',
    );
    await expect(tasks.create({ name: 'x', mode: 'solo' as never })).rejects.toThrow(
      'mode: must be one of',
    );
    await expect(
      tasks.create({ name: 'x', metadata: { big: 'y'.repeat(70_000) } }),
    ).rejects.toThrow('metadata');
    await expect(tasks.create({ name: 'x', metadata: [] as never })).rejects.toThrow('metadata');
    await expect(tasks.get('')).rejects.toThrow('taskId: is required');
    await expect(tasks.get('tsk_nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const t = await tasks.create({ name: 'x' });
    await tasks.start(t.id);
    await expect(tasks.fail(t.id, { error: '  ' })).rejects.toThrow('error: must not be empty');
    expect((await tasks.list()).total).toBe(1);
  });

  it('refuses illegal transitions naming the current and allowed statuses', async () => {
    const t = await tasks.create({ name: 'x' });
    const err = await tasks.complete(t.id).catch((e) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect(err.code).toBe('ILLEGAL_TRANSITION');
    expect(err.message).toContain('is pending');
    expect(err.message).toContain('running, cancelled');
    expect((await tasks.get(t.id)).version).toBe(1);
  });

  it('deletes only terminal tasks unless forced', async () => {
    const t = await tasks.create({ name: 'x' });
    await expect(tasks.delete(t.id)).rejects.toMatchObject({ code: 'ILLEGAL_TRANSITION' });
    await tasks.delete(t.id, { force: true });
    await expect(tasks.get(t.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const d = await tasks.create({ name: 'y' });
    await tasks.cancel(d.id);
    await tasks.delete(d.id);
  });

  it('with an expected version, a stale writer gets a conflict', async () => {
    const t = await tasks.create({ name: 'x' });
    await tasks.updateDetails(t.id, { name: 'renamed' }, { expectedVersion: 1 });
    await expect(tasks.start(t.id, { expectedVersion: 1 })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    const both = await Promise.allSettled([
      tasks.updateDetails(t.id, { name: 'a' }, { expectedVersion: 2 }),
      tasks.updateDetails(t.id, { name: 'b' }, { expectedVersion: 2 }),
    ]);
    expect(both.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
  });

  it('runs hooks in priority order; before-hooks see the old task, after-hooks the new one', async () => {
    hooks.register('beforeTaskStart', (c) => void calls.push(`p10:${c.task.status}`), {
      priority: 10,
    });
    hooks.register('beforeTaskStart', (c) => void calls.push(`p200:${c.task.status}`), {
      priority: 200,
    });
    hooks.register('beforeTaskStart', (c) => void calls.push(`default:${c.task.status}`));
    hooks.register('afterTaskStart', (c) => void calls.push(`after:${c.task.status}`));
    const t = await tasks.create({ name: 'x' });
    await tasks.start(t.id);
    expect(calls).toEqual([
      'p10:pending',
      'decorated:beforeTaskStart:pending',
      'default:pending',
      'p200:pending',
      'after:running',
    ]);
  });

  it('a before-hook veto leaves the task unchanged and names the hook and reason', async () => {
    const later = jest.fn();
    hooks.register(
      'beforeTaskComplete',
      () => {
        throw new Error('tests are red');
      },
      { name: 'ci-gate', priority: 1 },
    );
    hooks.register('beforeTaskComplete', later, { priority: 2 });
    const t = await tasks.create({ name: 'x' });
    await tasks.start(t.id);
    const err = await tasks.complete(t.id).catch((e) => e);
    expect(err).toBeInstanceOf(HookVetoError);
    expect(err.message).toBe("vetoed by hook 'ci-gate' on beforeTaskComplete: tests are red");
    expect(later).not.toHaveBeenCalled();
    expect(await tasks.get(t.id)).toMatchObject({ status: 'running', version: 2 });
  });

  it('an after-hook failure is logged and does not undo the change; later hooks still run', async () => {
    hooks.register(
      'afterTaskComplete',
      () => {
        throw new Error('notifier down');
      },
      { priority: 5 },
    );
    const t = await tasks.create({ name: 'x' });
    await tasks.start(t.id);
    const done = await tasks.complete(t.id);
    expect(done.status).toBe('completed');
    expect(await tasks.get(t.id)).toMatchObject({ status: 'completed' });
    expect(calls).toContain('after-first:completed');
    expect(calls).toContain('on-event:completed');
  });

  it('unregister removes a hook', async () => {
    const off = hooks.register('beforeTaskCreate', () => {
      throw new Error('no');
    });
    await expect(tasks.create({ name: 'x' })).rejects.toBeInstanceOf(HookVetoError);
    off();
    await expect(tasks.create({ name: 'x' })).resolves.toMatchObject({ status: 'pending' });
  });
});

describe('command hooks from the hook file', () => {
  const home = tempHome();
  afterAll(() => home.cleanup());

  function script(name: string, body: string): string {
    const p = join(home.dir, name);
    writeFileSync(p, `#!/bin/sh\n${body}\n`);
    chmodSync(p, 0o755);
    return p;
  }

  it('passes the JSON payload on stdin, vetoes on non-zero exit with stderr, enforces timeouts', async () => {
    const seen = join(home.dir, 'seen.json');
    const hooksFile = join(home.dir, 'hooks.json');
    writeFileSync(
      hooksFile,
      JSON.stringify({
        hooks: [
          {
            name: 'record',
            event: 'beforeTaskStart',
            command: [script('record.sh', `cat > "${seen}"`)],
            priority: 1,
          },
          {
            name: 'gate',
            event: 'beforeTaskComplete',
            command: [script('gate.sh', 'echo "coverage below 80%" >&2; exit 3')],
          },
          {
            name: 'slow',
            event: 'beforeTaskFail',
            command: [script('slow.sh', 'sleep 30')],
            timeoutMs: 300,
          },
          { name: 'after-broken', event: 'afterTaskCancel', command: ['/nonexistent/hook'] },
        ],
      }),
    );
    const app = await boot(home.dir, hooksFile);
    try {
      const tasks = app.get(TasksService);
      const t = await tasks.create({ name: 'with hooks', metadata: { a: 1 } });
      await tasks.start(t.id);
      const payload = JSON.parse(require('node:fs').readFileSync(seen, 'utf8'));
      expect(payload).toMatchObject({
        event: 'beforeTaskStart',
        task: { id: t.id, status: 'pending', metadata: { a: 1 } },
        transition: { from: 'pending', to: 'running' },
      });

      const veto = await tasks.complete(t.id).catch((e) => e);
      expect(veto).toBeInstanceOf(HookVetoError);
      expect(veto.message).toBe("vetoed by hook 'gate' on beforeTaskComplete: coverage below 80%");

      const t0 = Date.now();
      const slow = await tasks.fail(t.id, { error: 'x' }).catch((e) => e);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(slow.message).toContain('timed out after 300ms');
      expect((await tasks.get(t.id)).status).toBe('running');

      expect((await tasks.cancel(t.id)).status).toBe('cancelled');
    } finally {
      await app.close();
    }
  });

  it('a malformed hook file is a start-up error naming the file and field', async () => {
    const bad = join(home.dir, 'bad-hooks.json');
    writeFileSync(bad, JSON.stringify({ hooks: [{ event: 'beforeLunch', command: ['x'] }] }));
    await expect(boot(home.dir, bad)).rejects.toThrow(/bad-hooks\.json: hooks\.0\.event/);
    writeFileSync(bad, '{not json');
    await expect(boot(home.dir, bad)).rejects.toThrow(/bad-hooks\.json: malformed JSON/);
  });
});
