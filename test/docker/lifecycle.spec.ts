import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import Docker from 'dockerode';
import { mkdirSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { DomainError } from '../../src/domain/errors';
import { newId } from '../../src/domain/ids';
import type { OpenCodeToolsOptionsInput } from '../../src/config/options';
import { EXECUTION_STORE, type ExecutionStore } from '../../src/ports/execution-store.port';
import { SANDBOX_RUNTIME, type SandboxRuntime } from '../../src/ports/sandbox-runtime.port';
import { TASK_REPOSITORY, type TaskRepository } from '../../src/ports/task-repository.port';
import { ReconcilerService } from '../../src/modules/docker/reconciler.service';
import { resolveSandboxConfig } from '../../src/modules/docker/sandbox-policy';
import { SandboxService } from '../../src/modules/docker/sandbox.service';
import { TasksService } from '../../src/modules/tasks/tasks.service';
import { OpenCodeToolsModule } from '../../src/opencode-tools.module';
import { resolveOptions } from '../../src/config/options';
import { tempHome } from '../helpers/temp-home';
import { describeDocker, TEST_IMAGE, UNPULLABLE_IMAGE } from './engine';

jest.setTimeout(120_000);

async function boot(home: string, input: OpenCodeToolsOptionsInput = {}) {
  @Module({
    imports: [
      OpenCodeToolsModule.forRoot({
        home,
        database: { driver: 'sqlite', path: join(home, 'db.sqlite') },
        sandboxImage: TEST_IMAGE,
        instanceId: 'lifecycle-spec',
        ...input,
        sandbox: { orphanGraceMs: 0, stopGraceMs: 2000, ...input.sandbox },
      }),
    ],
  })
  class TestModule {}
  return NestFactory.createApplicationContext(TestModule, { logger: false });
}

async function errorOf(p: Promise<unknown>): Promise<DomainError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DomainError);
    return err as DomainError;
  }
  throw new Error('expected a DomainError');
}

describeDocker('task lifecycle drives Docker sandboxes (real engine)', () => {
  const docker = new Docker();
  const home = tempHome('oct-docker-');
  let app: INestApplicationContext;
  let tasks: TasksService;
  let sandboxes: SandboxService;
  let runtime: SandboxRuntime;
  let repo: TaskRepository;
  const ours = async (taskId: string) =>
    (await runtime.listResources())
      .filter((r) => r.taskId === taskId)
      .map((r) => r.kind)
      .sort();

  beforeAll(async () => {
    app = await boot(home.dir);
    tasks = app.get(TasksService);
    sandboxes = app.get(SandboxService);
    runtime = app.get(SANDBOX_RUNTIME);
    repo = app.get(TASK_REPOSITORY);
  });
  afterAll(async () => {
    const page = await tasks.list({ limit: 1000 });
    for (const t of page.items) await tasks.delete(t.id, { force: true }).catch(() => undefined);
    await app.close();
    home.cleanup();
  });

  it('create starts the sandbox; cancel stops it; delete leaves no container, network or volume', async () => {
    const task = await tasks.create({ name: 'full cycle', sandbox: { network: 'internal' } });
    const info = await runtime.inspect(task.id);
    expect(info?.state).toBe('running');
    expect(info?.labels).toMatchObject({
      'opencode-tools.task-id': task.id,
      'opencode-tools.instance-id': 'lifecycle-spec',
      'opencode-tools.version': expect.any(String),
    });
    expect(await ours(task.id)).toEqual(['container', 'network', 'volume']);
    await tasks.start(task.id);
    const r = await sandboxes.exec(task.id, { command: ['sh', '-c', 'echo $((6*7))'] });
    expect(r).toMatchObject({ exitCode: 0, stdout: '42\n', taskId: task.id });
    expect(r.executionId).toMatch(/^exe_/);
    await tasks.cancel(task.id, { reason: 'test' });
    expect((await runtime.inspect(task.id))?.state).toBe('exited');
    expect(await ours(task.id)).toEqual(['container', 'network', 'volume']); // kept for inspection
    await expect(sandboxes.exec(task.id, { command: ['true'] })).rejects.toMatchObject({
      code: 'ILLEGAL_TRANSITION',
    });
    await tasks.delete(task.id);
    expect(await ours(task.id)).toEqual([]);
    await expect(docker.getNetwork(`oct-net-${task.id}`).inspect()).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it('delete --force of a running task tears the sandbox down first', async () => {
    const task = await tasks.create({ name: 'forced', sandbox: {} });
    await tasks.start(task.id);
    await tasks.delete(task.id, { force: true });
    expect(await ours(task.id)).toEqual([]);
    await expect(tasks.get(task.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('deleting a task while its commands run leaves no journal record behind', async () => {
    const task = await tasks.create({ name: 'busy', sandbox: {} });
    await tasks.start(task.id);
    const store = app.get<ExecutionStore>(EXECUTION_STORE);
    // A session command and an argv one, both running when the task is deleted.
    const running = await Promise.all([
      sandboxes.startExec(task.id, { command: 'sleep 30', timeoutMs: 60_000 }),
      sandboxes.startExec(task.id, { command: ['sleep', '30'], timeoutMs: 60_000 }),
    ]);
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    await tasks.delete(task.id, { force: true });
    const results = await Promise.all(running.map((s) => s.done.catch((e: Error) => e)));
    // Both end with the sandbox, not at their timeout; the session command as detached.
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(results[0]).toMatchObject({ exitCode: null, detached: true });
    for (const [i, s] of running.entries()) {
      expect([i, await store.get(s.executionId)]).toEqual([i, null]);
      const r = results[i];
      if (!(r instanceof Error)) expect(r.exitCode === 0 && !r.timedOut).toBe(false);
    }
  });

  it('complete and fail stop the sandbox; resume re-creates a vanished one with its workspace', async () => {
    const a = await tasks.create({ name: 'completes', sandbox: {} });
    await tasks.start(a.id);
    await tasks.complete(a.id, { message: 'done' });
    expect((await runtime.inspect(a.id))?.state).toBe('exited');
    const b = await tasks.create({ name: 'vanishes', sandbox: {} });
    await sandboxes.writeFile(b.id, 'notes/a.txt', 'kept');
    await docker.getContainer(`oct-${b.id}`).remove({ force: true });
    await tasks.start(b.id);
    expect((await runtime.inspect(b.id))?.state).toBe('running');
    expect((await sandboxes.readFile(b.id, '/workspace/notes/a.txt')).toString()).toBe('kept');
    await tasks.fail(b.id, { error: 'boom' });
    expect((await runtime.inspect(b.id))?.state).toBe('exited');
  });

  it('bad inputs are clear errors and create nothing', async () => {
    const before = (await runtime.listResources()).length;
    const count = async () => (await tasks.list({ limit: 1000 })).total;
    const n = await count();
    const img = await errorOf(tasks.create({ name: 'x', sandbox: { image: UNPULLABLE_IMAGE } }));
    expect(img.code).toBe('NOT_FOUND');
    expect(img.message).toContain(UNPULLABLE_IMAGE);
    expect(img.message).toMatch(/docker pull|docker load/);
    const mem = await errorOf(
      tasks.create({ name: 'x', sandbox: { limits: { memoryMb: 999_999 } } }),
    );
    expect(mem.code).toBe('VALIDATION');
    expect(mem.message).toMatch(
      /sandbox\.limits\.memoryMb: 999999 MiB is above the operator maximum 4096 MiB/,
    );
    const cpu = await errorOf(tasks.create({ name: 'x', sandbox: { limits: { cpus: 64 } } }));
    expect(cpu.message).toMatch(/sandbox\.limits\.cpus/);
    const mount = await errorOf(
      tasks.create({ name: 'x', sandbox: { mounts: [{ source: '/etc', target: '/host-etc' }] } }),
    );
    expect(mount.message).toMatch(/sandbox\.mounts\.0\.source: host mounts are disabled/);
    expect(await count()).toBe(n);
    expect((await runtime.listResources()).length).toBe(before);

    const t = await tasks.create({ name: 'inputs', sandbox: {} });
    const empty = await errorOf(sandboxes.exec(t.id, { command: [] }));
    expect(empty.message).toMatch(/^command: must not be empty/);
    expect((await errorOf(sandboxes.exec(t.id, { command: '  ' }))).code).toBe('VALIDATION');
    const tmo = await errorOf(
      sandboxes.exec(t.id, { command: ['true'], timeoutMs: 10 * 3600_000 }),
    );
    expect(tmo.message).toMatch(/timeoutMs: .* above the operator maximum/);
    for (const p of ['../../etc/passwd', '/workspace/../etc/shadow', 'a/../../b', '']) {
      const e = await errorOf(sandboxes.writeFile(t.id, p, 'x'));
      expect(e.code).toBe('VALIDATION');
      expect(e.message).toMatch(/^path: /);
      expect((await errorOf(sandboxes.readFile(t.id, p))).code).toBe('VALIDATION');
    }
    const big = await errorOf(sandboxes.writeFile(t.id, 'big.bin', Buffer.alloc(9 * 1024 * 1024)));
    expect(big.message).toMatch(/^content: is 9437184 bytes, over the 8388608-byte limit/);
    // Nothing was written by the refused calls.
    const ls = await sandboxes.exec(t.id, { command: ['ls', '-A', '/workspace'] });
    expect(ls.stdout).toBe('');
  });

  it('symlinks cannot lead file operations out of the container', async () => {
    const t = await tasks.create({ name: 'links', sandbox: {} });
    const hostMarker = `/tmp/oct-escape-${t.id}`;
    await sandboxes.exec(t.id, {
      command: {
        shell:
          'ln -s /tmp /workspace/tmplink && ln -s /etc/passwd /workspace/pw && ln -s ../../../../../tmp /workspace/up',
      },
    });
    // Parent symlinks resolve inside the container's root, never on the host.
    await sandboxes.writeFile(t.id, `up/oct-escape-${t.id}`, 'inside');
    expect(existsSync(hostMarker)).toBe(false);
    const inside = await sandboxes.exec(t.id, { command: ['cat', hostMarker] });
    expect(inside.stdout).toBe('inside');
    // A symlink as the last component is refused, not followed.
    const link = await errorOf(sandboxes.readFile(t.id, 'pw'));
    expect(link.code).toBe('VALIDATION');
    expect(link.message).toMatch(/symbolic link to '\/etc\/passwd'/);
    // Writing over a symlink replaces the link; the target is untouched.
    await sandboxes.writeFile(t.id, 'pw', 'replaced');
    const passwd = await sandboxes.exec(t.id, { command: ['head', '-1', '/etc/passwd'] });
    expect(passwd.stdout).toMatch(/^root:/);
  });

  it('host mounts: only from the allow-list, read-only by default, symlinks resolved', async () => {
    const allowed = join(home.dir, 'share');
    mkdirSync(allowed, { recursive: true });
    writeFileSync(join(allowed, 'data.txt'), 'shared');
    symlinkSync('/etc', join(allowed, 'etc-link'));
    const options = resolveOptions({ home: home.dir, sandbox: { mountAllowList: [allowed] } });
    const ok = resolveSandboxConfig(
      't1',
      { mounts: [{ source: allowed, target: '/data' }] },
      options,
    );
    expect(ok.mounts).toEqual([{ source: allowed, target: '/data', readOnly: true }]);
    expect(() =>
      resolveSandboxConfig(
        't1',
        { mounts: [{ source: join(allowed, 'etc-link'), target: '/x' }] },
        options,
      ),
    ).toThrow(/not inside an allowed host directory/);
    expect(() =>
      resolveSandboxConfig(
        't1',
        { mounts: [{ source: `${allowed}-evil`, target: '/x' }] },
        options,
      ),
    ).toThrow(/does not exist|not inside/);
    // The sessions' FIFO directory's place is reserved, and what is under it.
    for (const target of [
      '/run/opencode-tools',
      '/run/opencode-tools/x',
      '/run/./opencode-tools',
    ]) {
      expect(() =>
        resolveSandboxConfig('t1', { mounts: [{ source: allowed, target }] }, options),
      ).toThrow(/sandbox\.mounts\.0\.target: .* is reserved for opencode-tools' session FIFOs/);
    }
    expect(
      resolveSandboxConfig('t1', { mounts: [{ source: allowed, target: '/run/other' }] }, options)
        .mounts,
    ).toHaveLength(1);
    // And for real: mounted read-only.
    const app2 = await boot(home.dir, {
      database: { driver: 'memory' },
      sandbox: { mountAllowList: [allowed] },
    });
    try {
      const t2 = app2.get(TasksService);
      const s2 = app2.get(SandboxService);
      const task = await t2.create({
        name: 'mounts',
        sandbox: { mounts: [{ source: allowed, target: '/data' }] },
      });
      const r = await s2.exec(task.id, {
        command: { shell: 'cat /data/data.txt; echo x > /data/new 2>&1; echo rc=$?' },
      });
      expect(r.stdout).toMatch(/^shared/);
      expect(r.stdout + r.stderr).toMatch(/Read-only file system/);
      await t2.delete(task.id, { force: true });
    } finally {
      await app2.close();
    }
  });

  it('the reconciler handles its four cases and is idempotent', async () => {
    const reconciler = app.get(ReconcilerService);
    await reconciler.reconcile(); // settle earlier tests' leftovers
    // 1. live task + running container
    const live = await tasks.create({ name: 'live', sandbox: {} });
    await tasks.start(live.id);
    // 2. live task whose container vanished
    const gone = await tasks.create({ name: 'gone', sandbox: {} });
    await tasks.start(gone.id);
    await docker.getContainer(`oct-${gone.id}`).remove({ force: true });
    // 3. labelled orphan of a task this registry never had
    const orphanId = newId('tsk');
    const options = resolveOptions({
      home: home.dir,
      database: { driver: 'sqlite', path: join(home.dir, 'db.sqlite') },
      sandboxImage: TEST_IMAGE,
      instanceId: 'lifecycle-spec',
    });
    await runtime.create(resolveSandboxConfig(orphanId, { network: 'internal' }, options));
    // 3b. what a crash leaves of a deleted task restored from a deleted checkpoint: its snapshot
    // image, untagged, with no container any more (and its network and volume)
    const crashedId = newId('tsk');
    await runtime.create(resolveSandboxConfig(crashedId, { network: 'internal' }, options));
    await docker.getContainer(`oct-${crashedId}`).commit({ pause: false });
    await docker.getContainer(`oct-${crashedId}`).remove({ force: true });
    const crashedImages = () =>
      docker.listImages({ filters: { label: [`opencode-tools.task-id=${crashedId}`] } });
    expect(await crashedImages()).toHaveLength(1);
    // 4. finished in the registry, container still running (the stop never happened)
    const stuck = await tasks.create({ name: 'stuck', sandbox: {} });
    await tasks.start(stuck.id);
    const current = await repo.findById(stuck.id);
    await repo.update(
      stuck.id,
      current!.version,
      { status: 'completed' },
      new Date().toISOString(),
    );

    const report = await reconciler.reconcile();
    const byTask = Object.fromEntries(report.actions.map((a) => [a.taskId, a.kind]));
    expect(report.errors).toEqual([]);
    expect(byTask[live.id]).toBe('adopted');
    expect(byTask[gone.id]).toBe('failed-task');
    expect(byTask[orphanId]).toBe('removed-orphan');
    expect(byTask[stuck.id]).toBe('stopped');
    const failed = await tasks.get(gone.id);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/sandbox container vanished/);
    expect(await ours(orphanId)).toEqual([]);
    expect(byTask[crashedId]).toBe('removed-orphan');
    expect(report.actions.find((a) => a.taskId === crashedId)?.detail).toMatch(
      /^network \S+, volume \S+, image sha256:/,
    );
    expect(await ours(crashedId)).toEqual([]);
    expect(await crashedImages()).toEqual([]);
    expect((await runtime.inspect(stuck.id))?.state).toBe('exited');

    const again = await reconciler.reconcile();
    expect(again.errors).toEqual([]);
    expect(again.actions.filter((a) => a.kind !== 'adopted')).toEqual([]);
  });

  it('an unreachable engine is a typed SANDBOX_UNAVAILABLE error naming DOCKER_HOST; tasks still work', async () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';
    const down = await boot(home.dir, { database: { driver: 'memory' } });
    try {
      const t = down.get(TasksService);
      const plain = await t.create({ name: 'no sandbox needed' });
      expect((await t.start(plain.id)).status).toBe('running');
      const e = await errorOf(t.create({ name: 'needs docker', sandbox: {} }));
      expect(e.code).toBe('SANDBOX_UNAVAILABLE');
      expect(e.message).toContain('DOCKER_HOST=unix:///nonexistent/docker.sock');
      expect((await t.list()).total).toBe(1);
    } finally {
      await down.close();
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });
});
