import Docker from 'dockerode';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDockerSandboxRuntime } from '../../src/adapters/docker';
import { ExecSession } from '../../src/adapters/docker/exec-session';
import { IO_MOUNT_TARGET, IO_PROBE_MS, SessionIoDirs } from '../../src/adapters/docker/session-io';
import { newId } from '../../src/domain/ids';
import type { ExecRequest, SandboxRuntime } from '../../src/ports/sandbox-runtime.port';
import { sandboxConfig } from '../contract/sandbox-runtime.contract';
import { tempHome } from '../helpers/temp-home';
import { describeDocker, TEE_OUTPUTS, TEST_IMAGE } from './engine';

jest.setTimeout(120_000);

const LABELS = { 'opencode-tools.instance-id': 'session-fifo-spec' };
const req = (shell: string, extra: Partial<ExecRequest> = {}): ExecRequest => ({
  command: { shell },
  timeoutMs: 10_000,
  outputCapBytes: 1 << 20,
  ...extra,
});

describeDocker('session FIFOs (OPENCODE_SESSION_IO=fifo, real engine)', () => {
  let home: ReturnType<typeof tempHome>;
  let rt: SandboxRuntime;
  const tasks: [SandboxRuntime, string][] = [];
  const docker = new Docker();
  const ioRoot = () => join(home.dir, 'io');
  const start = async (runtime: SandboxRuntime) => {
    const taskId = newId('tsk');
    tasks.push([runtime, taskId]);
    await runtime.create(sandboxConfig(taskId, TEST_IMAGE, { labels: LABELS }));
    await runtime.start(taskId);
    return taskId;
  };

  beforeAll(async () => {
    home = tempHome('oct-session-fifo-');
    rt = await createDockerSandboxRuntime(undefined, { sessionsPerTask: 2, ioRoot: ioRoot() });
  });
  afterAll(async () => {
    for (const [runtime, taskId] of tasks) await runtime.remove(taskId).catch(() => undefined);
    await rt.close();
    home.cleanup();
  });

  it("mounts each sandbox's own directory read-only, private on the host, and removes it with the sandbox", async () => {
    const taskId = await start(rt);
    const dir = join(ioRoot(), `oct-${taskId}`);
    expect(statSync(ioRoot()).mode & 0o777).toBe(0o700);
    expect(statSync(dir).mode & 0o777).toBe(0o711);
    const { Mounts } = (await docker.getContainer(`oct-${taskId}`).inspect()) as unknown as {
      Mounts: { Type: string; Source: string; Destination: string; RW: boolean }[];
    };
    expect(Mounts).toContainEqual(
      expect.objectContaining({
        Type: 'bind',
        Source: dir,
        Destination: '/run/opencode-tools',
        RW: false,
      }),
    );
    // The sandbox cannot put anything there, nor see another sandbox's FIFOs.
    const w = await rt.exec(
      taskId,
      req('touch /run/opencode-tools/x; mkfifo /run/opencode-tools/y'),
    );
    expect(w.exitCode).not.toBe(0);
    expect(w.stderr).toMatch(/Read-only file system/);
    expect((await rt.exec(taskId, req('echo hi'))).stdout).toBe('hi\n');
    await rt.remove(taskId);
    expect(existsSync(dir)).toBe(false);
  });

  it('a stopped sandbox whose directory is gone starts again (the directory is made again)', async () => {
    const taskId = await start(rt);
    await rt.stop(taskId, 0);
    new SessionIoDirs(ioRoot()).remove(taskId);
    await rt.start(taskId);
    const r = await rt.exec(taskId, req(TEE_OUTPUTS));
    expect(r.stdout).toMatch(/^\/run\/opencode-tools\/[0-9a-f]{32}\.o \(deleted\)$/m);
  });

  it('a sandbox created without the mount gets sessions over the attach stream, at once', async () => {
    const plain = await createDockerSandboxRuntime(undefined, { sessionsPerTask: 1 });
    const taskId = await start(plain);
    await plain.close();
    // This runtime's directory for the task exists, but the sandbox does not see it: the shell
    // says so before any wait.
    new SessionIoDirs(ioRoot()).ensure(taskId);
    const r = await rt.exec(taskId, req(TEE_OUTPUTS));
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/^pipe:/),
      expect.stringMatching(/^pipe:/),
    ]);
    expect(readdirSync(join(ioRoot(), `oct-${taskId}`))).toEqual([]);
    // That is no sign of an engine FIFOs cannot reach: other sandboxes keep them.
    const other = await start(rt);
    expect((await rt.exec(other, req(TEE_OUTPUTS))).stdout).toMatch(
      /^\/run\/opencode-tools\/[0-9a-f]{32}\.o \(deleted\)$/m,
    );
  });

  it("FIFOs the sandbox can open but this process never hears from (a VM's engine) fall back to the attach stream and stay off", async () => {
    const taskId = await start(rt);
    const container = docker.getContainer(`oct-${taskId}`);
    // The sandbox gets FIFOs of its own at the path the session names; the host ends are FIFOs
    // of another directory, as when the engine's kernel is not this one.
    const elsewhere = join(home.dir, 'elsewhere');
    mkdirSync(join(elsewhere, `oct-${taskId}`), { recursive: true });
    const dirs = new SessionIoDirs(elsewhere);
    const open = dirs.open.bind(dirs);
    dirs.open = async (t, sid) => {
      const f = await open(t, sid);
      const made = await rt.exec(
        taskId,
        req(`mkfifo /tmp/${sid}.o /tmp/${sid}.i /tmp/${sid}.e`, { fresh: true }),
      );
      expect(made.exitCode).toBe(0);
      return { ...f, inside: `/tmp/${sid}` };
    };
    const logs: string[] = [];
    const t0 = Date.now();
    const s = await ExecSession.open(container, {
      io: { dirs, taskId, log: (m) => logs.push(m) },
    });
    try {
      expect(Date.now() - t0).toBeGreaterThanOrEqual(IO_PROBE_MS);
      expect(dirs.broken).toMatch(/no FIFO output reached this process/);
      expect(logs.join('\n')).toMatch(/sessions use the attach stream/);
      const cmd = s.start(req('echo hi; echo err >&2; exit 3') as never, undefined);
      const { result } = await cmd.finished;
      expect(result).toMatchObject({ exitCode: 3, stdout: 'hi\n', stderr: 'err\n' });
      // Nothing of the try is left on the host.
      expect(readdirSync(join(elsewhere, `oct-${taskId}`))).toEqual([]);
    } finally {
      s.close();
    }
    // The next session does not try again.
    const logs2: string[] = [];
    const s2 = await ExecSession.open(container, {
      io: { dirs, taskId, log: (m) => logs2.push(m) },
    });
    s2.close();
    expect(logs2).toEqual([]);
  });

  it("an engine that cannot mount the directory (not this host's files) gets sandboxes without it", async () => {
    const own = await createDockerSandboxRuntime(undefined, {
      sessionsPerTask: 1,
      ioRoot: join(home.dir, 'io2'),
    });
    // As a socket forwarded from another machine: the engine does not see the directory.
    const mount = jest
      .spyOn(SessionIoDirs.prototype, 'mount')
      .mockImplementation((taskId: string) => ({
        Type: 'bind',
        Source: join(home.dir, 'not-on-the-engine', taskId),
        Target: IO_MOUNT_TARGET,
        ReadOnly: true,
      }));
    let taskId: string;
    try {
      taskId = await start(own);
    } finally {
      mount.mockRestore();
    }
    const { Mounts } = (await docker.getContainer(`oct-${taskId}`).inspect()) as unknown as {
      Mounts: { Type: string }[];
    };
    expect(Mounts.map((m) => m.Type)).toEqual(['volume']);
    const r = await own.exec(taskId, req(TEE_OUTPUTS));
    expect(r.stdout).toMatch(/^pipe:/);
    // No more tries in this process: the next sandbox is made without the mount at once.
    const next = await start(own);
    const n = (await docker.getContainer(`oct-${next}`).inspect()) as unknown as {
      Mounts: { Type: string }[];
    };
    expect(n.Mounts.map((m) => m.Type)).toEqual(['volume']);
    await own.close();
  });

  it('a directory that cannot be made (the io root under a file) leaves the sandbox without FIFOs, working', async () => {
    writeFileSync(join(home.dir, 'a-file'), '');
    const own = await createDockerSandboxRuntime(undefined, {
      sessionsPerTask: 1,
      ioRoot: join(home.dir, 'a-file', 'io'),
    });
    const taskId = await start(own);
    const i = (await docker.getContainer(`oct-${taskId}`).inspect()) as unknown as {
      Mounts: { Type: string }[];
    };
    expect(i.Mounts.map((m) => m.Type)).toEqual(['volume']);
    await own.stop(taskId, 0);
    await own.start(taskId);
    expect((await own.exec(taskId, req(TEE_OUTPUTS))).stdout).toMatch(/^pipe:/);
    await own.close();
  });

  it('no mkfifo on this host: the session uses the attach stream, said once, FIFOs off', async () => {
    const taskId = await start(rt);
    const container = docker.getContainer(`oct-${taskId}`);
    const dirs = new SessionIoDirs(ioRoot(), 'no-such-mkfifo-here');
    const logs: string[] = [];
    const s = await ExecSession.open(container, {
      io: { dirs, taskId, log: (m) => logs.push(m) },
    });
    try {
      expect(dirs.broken).toMatch(/spawn no-such-mkfifo-here ENOENT/);
      expect(logs).toEqual([expect.stringMatching(/using the attach stream from now on/)]);
      const { result } = await s.start(req('echo hi') as never, undefined).finished;
      expect(result).toMatchObject({ exitCode: 0, stdout: 'hi\n' });
    } finally {
      s.close();
    }
    // The next session does not try (nor log) again.
    const s2 = await ExecSession.open(container, {
      io: { dirs, taskId, log: (m) => logs.push(m) },
    });
    s2.close();
    expect(logs).toHaveLength(1);
  });

  it('a sandbox without /bin/sh fails the session at once, saying what it needs', async () => {
    const taskId = await start(rt);
    const mv = await rt.exec(taskId, {
      command: ['mv', '/bin/sh', '/bin/sh.off'],
      timeoutMs: 5000,
      outputCapBytes: 1024,
    });
    expect(mv.exitCode).toBe(0);
    // "it exited", not "no answer in 10s": the end of the exec is seen while asking about FIFOs.
    await expect(rt.exec(taskId, req('echo hi'))).rejects.toThrow(
      /did not start a session \(it exited\)/,
    );
    expect(readdirSync(join(ioRoot(), `oct-${taskId}`))).toEqual([]);
  });

  it('a command goes on filling its logs after the server is gone (no reader on the FIFOs)', async () => {
    const own = await createDockerSandboxRuntime(undefined, {
      sessionsPerTask: 1,
      ioRoot: ioRoot(),
    });
    const taskId = await start(own);
    const started = await own.startExec(
      taskId,
      req('i=0; while [ $i -lt 400 ]; do echo line$i; echo e$i >&2; i=$((i+1)); sleep 0.005; done'),
    );
    await new Promise((r) => setTimeout(r, 300));
    // The server's ends close (as when it dies): the session's tees get EPIPE from now on.
    await own.close();
    const result = await started.result;
    expect(result.detached).toBe(true);
    // Read back by another process, from the logs in the sandbox, once the command ended.
    let out = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) } as {
      stdout: Buffer;
      stderr: Buffer;
      exitCode?: number | null;
    };
    for (let i = 0; i < 100 && out.exitCode === undefined; i++) {
      await new Promise((r) => setTimeout(r, 100));
      out = await rt.readSessionOutput(taskId, started.session!, 1 << 20);
    }
    expect(out.exitCode).toBe(0);
    const lines = out.stdout.toString().trim().split('\n');
    expect(lines).toHaveLength(400);
    expect(lines[399]).toBe('line399');
    expect(out.stderr.toString().trim().split('\n')).toHaveLength(400);
  });
});
