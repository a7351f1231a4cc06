import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import { createDockerSandboxRuntime } from '../../src/adapters/docker';
import { newId } from '../../src/domain/ids';
import type { ExecRequest, SandboxRuntime } from '../../src/ports/sandbox-runtime.port';
import { sandboxConfig } from '../contract/sandbox-runtime.contract';
import { describeDocker, TEST_IMAGE } from './engine';

jest.setTimeout(120_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An image made from the test image by one command (no registry, no build context). */
async function derive(docker: Docker, tag: string, script: string): Promise<string> {
  const c = await docker.createContainer({
    Image: TEST_IMAGE,
    Entrypoint: ['/bin/sh', '-c'],
    Cmd: [script],
    HostConfig: { NetworkMode: 'none' },
  });
  try {
    await c.start();
    const r = (await c.wait()) as { StatusCode: number };
    if (r.StatusCode !== 0) throw new Error(`deriving ${tag}: exit ${r.StatusCode}`);
    const [repo, t] = tag.split(':');
    await c.commit({ repo, tag: t });
  } finally {
    await c.remove({ force: true });
  }
  return tag;
}

describeDocker('argv and fresh commands are journaled in the sandbox (real engine)', () => {
  const docker = new Docker();
  let rt: SandboxRuntime;
  const tasks: string[] = [];
  const images: string[] = [];
  const req = (command: ExecRequest['command'], extra: Partial<ExecRequest> = {}) => ({
    command,
    timeoutMs: 20_000,
    outputCapBytes: 1 << 20,
    ...extra,
  });
  const sandbox = async (image = TEST_IMAGE) => {
    const id = newId('tsk');
    await rt.create(
      sandboxConfig(id, image, { labels: { 'opencode-tools.instance-id': 'exec-argv-spec' } }),
    );
    await rt.start(id);
    tasks.push(id);
    return id;
  };
  /** Runs in the container without our runtime (so without a wrapper). */
  const raw = async (taskId: string, cmd: string[]) => {
    const exec = await docker
      .getContainer(`oct-${taskId}`)
      .exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    let out = '';
    docker.modem.demuxStream(
      stream,
      { write: (c: Buffer) => (out += c) } as never,
      {
        write: () => true,
      } as never,
    );
    await new Promise((r) => stream.on('end', r));
    return out;
  };
  let taskId: string;

  beforeAll(async () => {
    rt = await createDockerSandboxRuntime();
    taskId = await sandbox();
  });
  afterAll(async () => {
    for (const t of tasks) await rt.remove(t).catch(() => undefined);
    await rt.close();
    for (const i of images)
      await docker
        .getImage(i)
        .remove({ force: true })
        .catch(() => undefined);
  });

  it('exit codes are exact and no frame reaches the output', async () => {
    const cases: [ExecRequest['command'], number][] = [
      [['true'], 0],
      [['sh', '-c', 'echo out; echo err >&2; exit 7'], 7],
      [['no-such-program-here'], 127],
      [['sh', '-c', 'kill -9 $$'], 137],
    ];
    for (const [command, code] of cases) {
      const s = await rt.startExec(taskId, req(command));
      expect(s.session).toMatchObject({ wrapped: true, outStart: 0, errStart: 0 });
      const r = await s.result;
      expect(r.exitCode).toBe(code);
      expect(r.stdout + r.stderr).not.toContain('\x1e');
    }
    const r = await rt.exec(taskId, req(['sh', '-c', 'echo out; echo err >&2; exit 7']));
    expect(r).toMatchObject({ stdout: 'out\n', stderr: 'err\n', stdoutBytes: 4, stderrBytes: 4 });
    // Killed by signal: nothing but the command's own output (no shell "Killed" notice).
    const k = await rt.exec(taskId, req(['sh', '-c', 'kill -9 $$']));
    expect(k).toMatchObject({ exitCode: 137, stdout: '', stderr: '', stderrBytes: 0 });
    const missing = await rt.exec(taskId, req(['no-such-program-here']));
    expect(missing.stderr).toContain('no-such-program-here: not found');
    // A shell builtin's name runs the program, as a plain exec would: `exit` is not one.
    expect((await rt.exec(taskId, req(['exit', '3']))).exitCode).toBe(127);
  });

  it('a fresh shell string keeps env, workdir and stdin; timeouts and kills are as before', async () => {
    const r = await rt.exec(
      taskId,
      req(
        { shell: 'pwd; echo "$A"; cat' },
        { fresh: true, env: { A: 'x y' }, workdir: '/tmp', stdin: 'in\n' },
      ),
    );
    expect(r).toMatchObject({ exitCode: 0, stdout: '/tmp\nx y\nin\n', stderr: '' });
    const argvStdin = await rt.exec(taskId, req(['cat'], { stdin: 'to argv\n' }));
    expect(argvStdin.stdout).toBe('to argv\n');
    const t = await rt.exec(taskId, req(['sh', '-c', 'echo a; sleep 30'], { timeoutMs: 500 }));
    expect(t).toMatchObject({ exitCode: null, timedOut: true, stdout: 'a\n', stderr: '' });
    const s = await rt.startExec(taskId, req(['sh', '-c', 'sleep 300 & sleep 301']));
    await sleep(300);
    await s.kill();
    expect(await s.result).toMatchObject({ exitCode: null, killed: true });
    expect(await raw(taskId, ['ps', '-o', 'args'])).not.toMatch(/sleep 30[01]/);
  });

  it('output is byte-exact, live and read back from the logs', async () => {
    const bytes = Buffer.concat([
      randomBytes(150_000),
      Buffer.from('\x1eoct:not-a-frame\x1e\x1eoct:'),
      randomBytes(50_000),
      Buffer.from('\n'),
    ]);
    const chunks: Buffer[] = [];
    const s = await rt.startExec(
      taskId,
      // Runs on until the test lets it end, however slow the machine.
      req(['sh', '-c', 'cat; while [ ! -e /tmp/go-bytes ]; do sleep 0.1; done'], { stdin: bytes }),
      (stream, c) => stream === 'stdout' && chunks.push(Buffer.from(c)),
    );
    for (let i = 0; i < 100 && Buffer.concat(chunks).length < bytes.length; i++) await sleep(50);
    const logs = await rt.readSessionOutput(taskId, s.session!, 1 << 20);
    expect(logs.exitCode).toBeUndefined();
    expect(logs.stdout.equals(bytes)).toBe(true);
    expect((await rt.exec(taskId, req(['touch', '/tmp/go-bytes']))).exitCode).toBe(0);
    const r = await s.result;
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
    expect(r.stdoutBytes).toBe(bytes.length);
    // A trailing byte that could start a frame is output too.
    const tail: Buffer[] = [];
    const t = await rt.exec(taskId, req(['cat'], { stdin: Buffer.from('x\x1eoc') }), (_st, c) =>
      tail.push(Buffer.from(c)),
    );
    expect(Buffer.concat(tail).toString('latin1')).toBe('x\x1eoc');
    expect(t.stdoutBytes).toBe(4);
  });

  it('a restarted reader finds output and end in the logs; killing by marker leaves the wrapper to write the end', async () => {
    const s = await rt.startExec(taskId, req(['sh', '-c', 'echo a; sleep 300']));
    await sleep(500);
    const other = await createDockerSandboxRuntime();
    try {
      const mid = await other.readSessionOutput(taskId, s.session!, 1 << 20);
      expect(mid.exitCode).toBeUndefined();
      expect(mid.stdout.toString()).toBe('a\n');
      await other.killSessionCommand(taskId, s.session!, mid.pid);
      // Read back as a reader without the stream would, until the wrapper wrote the end. Not
      // after `s.result`: `rt` saw the end then, and removes the logs 2 s later (a slow read
      // under load could come after that).
      let end = await other.readSessionOutput(taskId, s.session!, 1 << 20);
      for (let i = 0; i < 100 && end.exitCode === undefined; i++) {
        await sleep(100);
        end = await other.readSessionOutput(taskId, s.session!, 1 << 20);
      }
      expect(end.exitCode).toBe(137);
      await s.result;
    } finally {
      await other.close();
    }
  });

  it('finished commands leave no logs behind: the next command or the shutdown removes them', async () => {
    const own = await createDockerSandboxRuntime();
    const dirs = async () =>
      (await raw(taskId, ['ls', '/tmp/.opencode-sessions'])).split('\n').filter(Boolean);
    const dirOf = async (argv: string[]) => {
      const s = await own.startExec(taskId, req(argv));
      await s.result;
      return s.session!.sessionDir.split('/').pop()!;
    };
    const a = await dirOf(['echo', 'a']);
    expect(await dirs()).toContain(a);
    // The next command's wrapper removes it (logs are handed out 1 s after their end, the idle
    // removal comes 2 s after it).
    await sleep(1_100);
    const b = await dirOf(['echo', 'b']);
    for (let i = 0; i < 20 && (await dirs()).includes(a); i++) await sleep(50);
    expect(await dirs()).not.toContain(a);
    const c = await dirOf(['echo', 'c']);
    await own.close();
    expect((await dirs()).filter((d) => [a, b, c].includes(d))).toEqual([]);
  });

  it('an image without /bin/sh still runs argv commands (plain, unjournaled) and they run once', async () => {
    const tag = `opencode-tools-test:no-sh-${process.pid}`;
    images.push(await derive(docker, tag, 'rm /bin/sh'));
    const id = await sandbox(tag);
    const s = await rt.startExec(
      id,
      req(['busybox', 'sh', '-c', 'echo ran >> /workspace/runs; exit 7']),
    );
    expect(s.session).toBeUndefined();
    expect(await s.result).toMatchObject({ exitCode: 7, stdout: '', stderr: '' });
    const again = await rt.exec(id, req(['cat', '/workspace/runs']));
    expect(again).toMatchObject({ exitCode: 0, stdout: 'ran\n' });
    expect((await rt.exec(id, req(['no-such-program-here']))).exitCode).toBe(126);
  });

  it('where the logs cannot be made the command still runs, unjournaled', async () => {
    const tag = `opencode-tools-test:no-logs-${process.pid}`;
    images.push(
      await derive(docker, tag, 'rm -rf /tmp/.opencode-sessions; : > /tmp/.opencode-sessions'),
    );
    const id = await sandbox(tag);
    const s = await rt.startExec(id, req(['sh', '-c', 'echo hi; exit 3']));
    expect(s.session).toBeUndefined();
    expect(await s.result).toMatchObject({ exitCode: 3, stdout: 'hi\n', stderr: '' });
  });
});
