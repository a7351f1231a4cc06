import { DomainError } from '../../src/domain/errors';
import { newId } from '../../src/domain/ids';
import {
  SANDBOX_LABELS,
  type SandboxConfig,
  type SandboxRuntime,
} from '../../src/ports/sandbox-runtime.port';

export interface RuntimeHandle {
  runtime: SandboxRuntime;
  /** An image the runtime has locally. */
  image: string;
  /** An image that is absent and cannot be pulled. */
  missingImage: string;
  close(): Promise<void>;
}

export function sandboxConfig(taskId: string, image: string, over: Partial<SandboxConfig> = {}) {
  const config: SandboxConfig = {
    taskId,
    image,
    cpus: 0.5,
    memoryMb: 64,
    pids: 64,
    network: 'none',
    env: { GREETING: 'hello' },
    workdir: '/workspace',
    mounts: [],
    labels: { [SANDBOX_LABELS.instanceId]: 'contract', [SANDBOX_LABELS.registry]: 'contract' },
    logMaxSize: '1m',
    logMaxFiles: 1,
    pull: 'missing',
    ...over,
  };
  return config;
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DomainError);
    return (err as DomainError).code;
  }
  throw new Error('expected a DomainError');
}

/** The behaviour every SandboxRuntime must have. Run it against each implementation. */
export function describeSandboxRuntimeContract(
  name: string,
  open: () => Promise<RuntimeHandle>,
): void {
  describe(`SandboxRuntime contract: ${name}`, () => {
    let h: RuntimeHandle;
    const created: string[] = [];
    const make = async (over: Partial<SandboxConfig> = {}) => {
      const taskId = newId('tsk');
      created.push(taskId);
      const info = await h.runtime.create(sandboxConfig(taskId, h.image, over));
      return { taskId, info };
    };
    const run = (taskId: string, command: string[] | { shell: string }, extra = {}) =>
      h.runtime.exec(taskId, { command, timeoutMs: 10_000, outputCapBytes: 1 << 20, ...extra });

    beforeAll(async () => {
      h = await open();
    });
    afterAll(async () => {
      for (const id of created) await h.runtime.remove(id).catch(() => undefined);
      await h.close();
    });

    it('creates a labelled sandbox that is listed and inspectable; a second create conflicts', async () => {
      const { taskId, info } = await make();
      expect(info).toMatchObject({ taskId, image: h.image, state: 'created' });
      expect(info.labels).toMatchObject({
        [SANDBOX_LABELS.managed]: 'true',
        [SANDBOX_LABELS.taskId]: taskId,
        [SANDBOX_LABELS.instanceId]: 'contract',
      });
      expect(info.limits).toEqual({ cpus: 0.5, memoryMb: 64, pids: 64 });
      expect((await h.runtime.inspect(taskId))?.containerId).toBe(info.containerId);
      expect((await h.runtime.list()).map((i) => i.taskId)).toContain(taskId);
      const kinds = (await h.runtime.listResources())
        .filter((r) => r.taskId === taskId)
        .map((r) => r.kind)
        .sort();
      expect(kinds).toEqual(['container', 'volume']);
      expect(await code(h.runtime.create(sandboxConfig(taskId, h.image)))).toBe('CONFLICT');
    });

    it('an absent, unpullable image is NOT_FOUND naming it, and nothing is created', async () => {
      const taskId = newId('tsk');
      const err = await h.runtime
        .create(sandboxConfig(taskId, h.missingImage))
        .catch((e: DomainError) => e);
      expect(err).toBeInstanceOf(DomainError);
      expect((err as DomainError).code).toBe('NOT_FOUND');
      expect((err as DomainError).message).toContain(h.missingImage);
      expect(await h.runtime.inspect(taskId)).toBeNull();
      expect((await h.runtime.listResources()).filter((r) => r.taskId === taskId)).toEqual([]);
    });

    it('moves through start, pause, unpause, stop and start again', async () => {
      const { taskId } = await make();
      expect((await h.runtime.start(taskId)).state).toBe('running');
      expect((await h.runtime.start(taskId)).state).toBe('running'); // idempotent
      expect((await h.runtime.pause(taskId)).state).toBe('paused');
      expect((await h.runtime.unpause(taskId)).state).toBe('running');
      const stopped = await h.runtime.stop(taskId, 2000);
      expect(stopped.state).toBe('exited');
      expect(await code(run(taskId, ['echo', 'x']))).toBe('CONFLICT');
      expect((await h.runtime.stop(taskId, 2000)).state).toBe('exited'); // idempotent
      expect((await h.runtime.start(taskId)).state).toBe('running');
    });

    it('runs commands: stdout, stderr, exit codes, env, workdir, stdin', async () => {
      const { taskId } = await make();
      await h.runtime.start(taskId);
      const hi = await run(taskId, ['echo', 'hi']);
      expect(hi).toMatchObject({ exitCode: 0, stdout: 'hi\n', stderr: '', timedOut: false });
      expect(hi).toMatchObject({ stdoutBytes: 3, stderrBytes: 0, truncated: false });
      expect((await run(taskId, { shell: 'exit 3' })).exitCode).toBe(3);
      expect((await run(taskId, ['false'])).exitCode).toBe(1);
      expect((await run(taskId, { shell: 'echo oops >&2' })).stderr).toBe('oops\n');
      expect((await run(taskId, { shell: 'echo "$GREETING"' })).stdout).toBe('hello\n');
      const extra = await run(taskId, { shell: 'echo "$EXTRA"' }, { env: { EXTRA: 'x y' } });
      expect(extra.stdout).toBe('x y\n');
      expect((await run(taskId, ['pwd'])).stdout).toBe('/workspace\n');
      expect((await run(taskId, ['pwd'], { workdir: '/tmp' })).stdout).toBe('/tmp\n');
      expect((await run(taskId, ['cat'], { stdin: 'from stdin' })).stdout).toBe('from stdin');
    });

    it('a command over its timeout is reported timed out with no exit code', async () => {
      const { taskId } = await make();
      await h.runtime.start(taskId);
      const t0 = Date.now();
      const r = await run(taskId, ['sleep', '30'], { timeoutMs: 300 });
      expect(r.timedOut).toBe(true);
      expect(r.exitCode).toBeNull();
      expect(Date.now() - t0).toBeLessThan(8000);
      expect((await run(taskId, ['echo', 'after'])).stdout).toBe('after\n');
    });

    it('writes and reads files; the workspace survives re-creating the container', async () => {
      const { taskId } = await make();
      await h.runtime.start(taskId);
      await h.runtime.writeFile(taskId, '/workspace/dir/a.txt', Buffer.from('ünïcode\n'));
      expect((await h.runtime.readFile(taskId, '/workspace/dir/a.txt', 1024)).toString()).toBe(
        'ünïcode\n',
      );
      expect(await code(h.runtime.readFile(taskId, '/workspace/none.txt', 1024))).toBe('NOT_FOUND');
      expect(await code(h.runtime.readFile(taskId, '/workspace/dir/a.txt', 3))).toBe('VALIDATION');
      await h.runtime.remove(taskId, { keepVolume: true });
      await h.runtime.create(sandboxConfig(taskId, h.image));
      await h.runtime.start(taskId);
      expect((await h.runtime.readFile(taskId, '/workspace/dir/a.txt', 1024)).toString()).toBe(
        'ünïcode\n',
      );
    });

    it('reports stats with the configured limits', async () => {
      const { taskId } = await make();
      await h.runtime.start(taskId);
      const s = await h.runtime.stats(taskId);
      expect(s.taskId).toBe(taskId);
      expect(s.memoryLimitBytes).toBe(64 * 1024 * 1024);
      expect(s.pidsLimit).toBe(64);
      expect(s.pids).toBeGreaterThan(0);
    });

    it('remove takes container, network and volume, and is idempotent', async () => {
      const { taskId } = await make({ network: 'internal' });
      expect((await h.runtime.inspect(taskId))?.network).toBe(`oct-net-${taskId}`);
      const removed = (await h.runtime.remove(taskId)).map((r) => r.kind).sort();
      expect(removed).toEqual(['container', 'network', 'volume']);
      expect(await h.runtime.remove(taskId)).toEqual([]);
      expect(await h.runtime.inspect(taskId)).toBeNull();
      expect((await h.runtime.listResources()).filter((r) => r.taskId === taskId)).toEqual([]);
      expect(await code(h.runtime.start(taskId))).toBe('NOT_FOUND');
      expect(await code(run(taskId, ['echo']))).toBe('NOT_FOUND');
    });
  });
}
