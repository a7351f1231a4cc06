import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import fc from 'fast-check';
import { MemorySandboxRuntime } from '../../src/adapters/memory/memory-sandbox.runtime';
import { fifosPossible } from '../../src/adapters/docker/session-io';
import { sandboxOptionsFromEnv } from '../../src/config/sandbox-options';
import { CappedOutput } from '../../src/domain/capped-output';
import { DomainError } from '../../src/domain/errors';
import { sandboxPath } from '../../src/domain/sandbox-path';
import { isWithin } from '../../src/modules/docker/sandbox-policy';
import { SandboxService } from '../../src/modules/docker/sandbox.service';
import { TasksService } from '../../src/modules/tasks/tasks.service';
import { OpenCodeToolsModule } from '../../src/opencode-tools.module';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { PullProgressListener } from '../../src/modules/cli/commands/pull-progress.listener';
import { SANDBOX_EVENTS, type SandboxPullEvent } from '../../src/modules/docker/sandbox.events';
import { AgentAttachmentService } from '../../src/modules/locks/agent-attachment.service';
import { tempHome } from '../helpers/temp-home';

describe('CappedOutput', () => {
  it('keeps everything up to the cap, then exactly the head and the tail, and counts all bytes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 30 }),
        fc.integer({ min: 2, max: 500 }),
        (chunks, cap) => {
          const c = new CappedOutput(cap);
          for (const ch of chunks) c.push(Buffer.from(ch));
          const all = Buffer.concat(chunks.map((ch) => Buffer.from(ch)));
          expect(c.total).toBe(all.length);
          expect(c.truncated).toBe(all.length > cap);
          const out = c.toBuffer();
          if (all.length <= cap) return expect(out.equals(all)).toBe(true);
          const head = Math.ceil(cap / 2);
          const tail = cap - head;
          expect(out.subarray(0, head).equals(all.subarray(0, head))).toBe(true);
          expect(out.subarray(out.length - tail).equals(all.subarray(all.length - tail))).toBe(
            true,
          );
          expect(out.includes(Buffer.from(`[… ${all.length - cap} bytes omitted …]`))).toBe(true);
        },
      ),
    );
  });

  it('counts a gap of unread bytes: what follows it is the tail, never joined to the head', () => {
    const c = new CappedOutput(8);
    c.push(Buffer.from('ab'));
    c.skip(100);
    c.push(Buffer.from('xyz'));
    expect(c.total).toBe(105);
    expect(c.truncated).toBe(true);
    expect(c.toString()).toBe('ab\n[… 100 bytes omitted …]\nxyz');
    const d = new CappedOutput(8);
    d.push(Buffer.from('abcdefgh'));
    d.skip(5);
    d.push(Buffer.from('0123456789'));
    expect(d.toString()).toBe('abcd\n[… 15 bytes omitted …]\n6789');
  });
});

describe('sandbox paths are checked by component', () => {
  it.each([
    ['a.txt', '/workspace/a.txt'],
    ['src/./main.ts', '/workspace/src/main.ts'],
    ['/etc/hosts', '/etc/hosts'],
    ['//workspace//x', '/workspace/x'],
    ['..foo/bar', '/workspace/..foo/bar'],
  ])('%s → %s', (input, out) => expect(sandboxPath(input)).toBe(out));
  it.each(['', '   ', '../x', 'a/../../b', '/workspace/..', 'dir/', '/', 'a\0b'])(
    'refuses %j naming the field',
    (input) => expect(() => sandboxPath(input)).toThrow(/^path: /),
  );
  it('compares host paths by component, not prefix', () => {
    expect(isWithin('/srv/share', '/srv/share/a')).toBe(true);
    expect(isWithin('/srv/share', '/srv/share')).toBe(true);
    expect(isWithin('/srv/share', '/srv/share-evil')).toBe(false);
    expect(isWithin('/srv/share', '/srv')).toBe(false);
  });
});

describe('sandbox configuration from the environment', () => {
  const env = (vars: Record<string, string>) => (k: string) => vars[k];
  it('parses limits, lists and durations', () => {
    const o = sandboxOptionsFromEnv(
      env({
        OPENCODE_SANDBOX_MAX_MEMORY: '2048',
        OPENCODE_SANDBOX_NETWORKS: 'none,internal',
        OPENCODE_EXEC_TIMEOUT: '2m',
        OPENCODE_SANDBOX_MOUNTS: '/srv/a:/srv/b',
        OPENCODE_EXEC_KEY_TTL: '36h',
        OPENCODE_SANDBOX_SHELL: 'auto',
        OPENCODE_EXEC_LOG_MAX: '1048576',
        OPENCODE_SESSION_IO: 'attach',
      }),
    );
    expect(o).toMatchObject({
      max: { memoryMb: 2048 },
      allowedNetworks: ['none', 'internal'],
      execTimeoutMs: 120_000,
      execKeyTtlMs: 36 * 3_600_000,
      shell: 'auto',
      execLogMaxBytes: 1048576,
      sessionIo: 'attach',
      mountAllowList: ['/srv/a', '/srv/b'],
    });
    expect(sandboxOptionsFromEnv(env({})).sessionIo).toBeUndefined(); // the default: fifo
  });
  it('session FIFOs only where the engine shares this kernel', () => {
    const linux = { OperatingSystem: 'Debian GNU/Linux 12 (bookworm)', OSType: 'linux' };
    expect(fifosPossible(linux, {}, 'linux')).toBe(true);
    expect(
      fifosPossible(linux, { DOCKER_HOST: 'unix:///run/user/1000/docker.sock' }, 'linux'),
    ).toBe(true);
    expect(fifosPossible(linux, { DOCKER_HOST: 'tcp://10.0.0.2:2376' }, 'linux')).toBe(false);
    expect(fifosPossible(linux, { DOCKER_HOST: 'ssh://me@box' }, 'linux')).toBe(false);
    expect(fifosPossible(linux, {}, 'darwin')).toBe(false);
    expect(fifosPossible({ OperatingSystem: 'Docker Desktop', OSType: 'linux' }, {}, 'linux')).toBe(
      false,
    );
    expect(
      fifosPossible({ OperatingSystem: 'Windows Server', OSType: 'windows' }, {}, 'linux'),
    ).toBe(false);
  });
  it.each([
    [
      { OPENCODE_SANDBOX_MAX_PIDS: 'lots' },
      /^OPENCODE_SANDBOX_MAX_PIDS: 'lots' is not a whole number/,
    ],
    [{ OPENCODE_SANDBOX_PIDS: '8' }, /^OPENCODE_SANDBOX_PIDS: '8' is not a whole number >= 12/],
    [{ OPENCODE_SANDBOX_NETWORKS: 'host' }, /^OPENCODE_SANDBOX_NETWORKS: 'host' is not one of/],
    [
      { OPENCODE_SANDBOX_MEMORY: '8192' },
      /^OPENCODE_SANDBOX_MEMORY: default 8192 is above the maximum/,
    ],
    [{ OPENCODE_EXEC_TIMEOUT: '2h' }, /^OPENCODE_EXEC_TIMEOUT: .* above OPENCODE_EXEC_TIMEOUT_MAX/],
    [
      { OPENCODE_SANDBOX_MOUNTS: 'relative/dir' },
      /^OPENCODE_SANDBOX_MOUNTS: 'relative\/dir' is not an absolute path/,
    ],
    [{ OPENCODE_SANDBOX_RUNTIME: 'podman' }, /^OPENCODE_SANDBOX_RUNTIME/],
    [{ OPENCODE_EXEC_KEY_TTL: '0' }, /^OPENCODE_EXEC_KEY_TTL: must be > 0/],
    [{ OPENCODE_SANDBOX_SHELL: 'zsh' }, /^OPENCODE_SANDBOX_SHELL: 'zsh' is not one of/],
    [{ OPENCODE_SESSION_IO: 'pipe' }, /^OPENCODE_SESSION_IO: 'pipe' is not one of/],
    [
      { OPENCODE_EXEC_LOG_MAX: '4096' },
      /^OPENCODE_EXEC_LOG_MAX: '4096' is not a whole number >= 1048576/,
    ],
    [
      { OPENCODE_EXEC_LOG_MAX: '1048577' },
      /^OPENCODE_EXEC_LOG_MAX: '1048577' is not a multiple of 512/,
    ],
  ])('%j is an error naming the variable', (vars, msg) => {
    expect(() => sandboxOptionsFromEnv(env(vars))).toThrow(msg);
  });
});

describe('task lifecycle with the memory sandbox runtime', () => {
  const home = tempHome();
  afterAll(() => home.cleanup());

  async function boot(runtime: MemorySandboxRuntime | (() => never)) {
    const factory = jest.fn(async () => {
      if (typeof runtime === 'function') runtime();
      return runtime as MemorySandboxRuntime;
    });
    @Module({
      imports: [
        OpenCodeToolsModule.forRoot(
          { home: home.dir, database: { driver: 'memory' }, sandboxImage: 'img:1' },
          { sandboxRuntime: factory },
        ),
      ],
    })
    class M {}
    const app = await NestFactory.createApplicationContext(M, { logger: false });
    return { app, factory, tasks: app.get(TasksService), sandboxes: app.get(SandboxService) };
  }

  it('opens the runtime only when a task needs a sandbox', async () => {
    const { app, factory, tasks } = await boot(() => {
      throw new Error('must not be opened');
    });
    const t = await tasks.create({ name: 'plain' });
    await tasks.start(t.id);
    await tasks.complete(t.id);
    await tasks.delete(t.id);
    expect(factory).not.toHaveBeenCalled();
    await app.close();
  });

  it('provisions on create, stops on finish, tears down on delete; refusals create nothing', async () => {
    const rt = new MemorySandboxRuntime({ images: ['img:1'] });
    const { app, tasks, sandboxes } = await boot(rt);
    const t = await tasks.create({ name: 'boxed', sandbox: { limits: { pids: 100 } } });
    expect((await rt.inspect(t.id))?.state).toBe('running');
    expect((await rt.inspect(t.id))?.limits).toEqual({ cpus: 1, memoryMb: 512, pids: 100 });
    expect((await sandboxes.exec(t.id, { command: ['echo', 'hi'] })).stdout).toBe('hi\n');
    await tasks.start(t.id);
    await tasks.complete(t.id);
    expect((await rt.inspect(t.id))?.state).toBe('exited');
    await tasks.delete(t.id);
    expect(await rt.listResources()).toEqual([]);

    const tooBig = tasks.create({ name: 'x', sandbox: { limits: { pids: 100_000 } } });
    await expect(tooBig).rejects.toThrow(
      /^sandbox\.limits\.pids: 100000 is above the operator maximum 4096/,
    );
    // An exec session alone takes 7 processes.
    const tooSmall = tasks.create({ name: 'x', sandbox: { limits: { pids: 8 } } });
    await expect(tooSmall).rejects.toThrow(/sandbox\.limits\.pids.*at least 12/);
    const noNet = tasks.create({ name: 'x', sandbox: { image: 'missing:1' } });
    await expect(noNet).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await tasks.list()).total).toBe(0);
    expect(await rt.listResources()).toEqual([]);
    await app.close();
  });

  it('exec as an agent needs a live attachment; pulls report progress events with the task id', async () => {
    const rt = new MemorySandboxRuntime({ images: ['img:1'], pullable: ['fresh:1'] });
    const { app, tasks, sandboxes } = await boot(rt);
    const progress: SandboxPullEvent[] = [];
    app
      .get(EventEmitter2)
      .on(SANDBOX_EVENTS.pullProgress, (e: SandboxPullEvent) => progress.push(e));
    const t = await tasks.create({ name: 'agents', sandbox: { image: 'fresh:1' } });
    expect(progress.map((p) => p.status)).toEqual([
      'Downloading',
      'Downloading',
      'Downloading',
      'done',
    ]);
    expect(progress.every((p) => p.taskId === t.id && p.image === 'fresh:1')).toBe(true);
    const refused = sandboxes.exec(t.id, { command: ['echo'], agentId: 'agent-1' });
    await expect(refused).rejects.toMatchObject({ code: 'NOT_ATTACHED' });
    await app.get(AgentAttachmentService).attach(t.id, 'agent-1');
    const ok = await sandboxes.exec(t.id, { command: ['echo', 'ok'], agentId: 'agent-1' });
    expect(ok.stdout).toBe('ok\n');
    await app.close();
  });

  it('the CLI pull listener draws progress on stderr, never stdout', () => {
    const listener = new PullProgressListener();
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      for (const current of [0, 50, 100]) {
        listener.onProgress({
          taskId: 't',
          image: 'img',
          status: 'Downloading',
          current,
          total: 100,
        });
      }
      listener.onProgress({ taskId: 't', image: 'img', status: 'done' });
      const text = err.mock.calls.map((c) => String(c[0])).join('');
      expect(text).toMatch(/img/);
      expect(text).toMatch(/pulled img/);
      expect(out).not.toHaveBeenCalled();
    } finally {
      err.mockRestore();
      out.mockRestore();
    }
  });

  it('an engine that is down: SANDBOX_UNAVAILABLE, except for a forced delete', async () => {
    const rt = new MemorySandboxRuntime({ images: ['img:1'] });
    const { app, tasks } = await boot(rt);
    const t = await tasks.create({ name: 'boxed', sandbox: {} });
    rt.setDown(true);
    const err = await tasks.create({ name: 'y', sandbox: {} }).catch((e) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect(err.code).toBe('SANDBOX_UNAVAILABLE');
    await tasks.cancel(t.id); // the stop after-hook fails and is logged; the change stands
    await expect(tasks.delete(t.id)).rejects.toMatchObject({ code: 'SANDBOX_UNAVAILABLE' });
    await tasks.delete(t.id, { force: true });
    await expect(tasks.get(t.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await app.close();
  });
});
