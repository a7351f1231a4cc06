import { spawn } from 'node:child_process';
import { assertBuilt, BIN, cli } from '../helpers/cli';
import { tempHome } from '../helpers/temp-home';
import { describeDocker, TEST_IMAGE } from './engine';

jest.setTimeout(120_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeDocker('argv and fresh executions survive kill -9 of their process (built binary)', () => {
  const home = tempHome('oct-exec-argv-restart-');
  const env = { OPENCODE_HOME: home.dir, OPENCODE_SANDBOX_IMAGE: TEST_IMAGE };
  let taskId: string;
  /** Prints `a`, then waits (however slow the machine) until the test creates `go`. */
  const script = (go: string) => `echo a; while [ ! -e ${go} ]; do sleep 0.1; done; echo b; exit 7`;

  beforeAll(() => {
    assertBuilt();
    const r = cli(['create-task', 'argv-restart', '--image', TEST_IMAGE, '--json'], env);
    expect(r.stderr).toBe('');
    taskId = JSON.parse(r.stdout).id;
  });
  afterAll(() => {
    cli(['cleanup-task', taskId, '--force', '--yes'], env);
    home.cleanup();
  });

  /** Starts `exec … args` in a process, kills it with SIGKILL once it printed `a`. */
  async function startAndKill(args: string[]): Promise<void> {
    const child = spawn(process.execPath, [BIN, 'exec', '--task', taskId, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    });
    let seen = '';
    child.stdout.on('data', (c) => (seen += c));
    for (let i = 0; i < 200 && !seen.includes('a\n'); i++) await sleep(50);
    expect(seen).toBe('a\n');
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
  }

  const journaled = (id: string) =>
    (
      JSON.parse(cli(['task-executions', '--task', taskId, '--json'], env).stdout).items as {
        id: string;
        exitCode: number | null;
      }[]
    ).filter((e) => e.id === id);

  it.each([
    ['an argv command', '/tmp/go-argv', (s: string) => ['--', 'sh', '-c', s]],
    ['a fresh shell command', '/tmp/go-fresh', (s: string) => ['--fresh', '--shell', s]],
  ])(
    '%s: a new process reads its whole output and exit code, and journals it once',
    async (_name, go, argsOf) => {
      const cmd = argsOf(script(go));
      const key = `k-${cmd[0]}`;
      await startAndKill(['--idempotency-key', key, ...cmd]);
      // A new process, same key, answering at once: the first execution, still running.
      const first = cli(
        ['exec', '--task', taskId, '--idempotency-key', key, '--yield', '0', '--json', ...cmd],
        env,
      );
      const doc = JSON.parse(first.stdout);
      expect(doc).toMatchObject({ status: 'running', replayed: true });
      const poll = JSON.parse(cli(['exec-poll', doc.executionId, '--json'], env).stdout);
      expect(poll).toMatchObject({ status: 'running', stdout: 'a\n', exitCode: null });
      expect(cli(['exec', '--task', taskId, '--', 'touch', go], env).code).toBe(0);
      const wait = cli(['exec-wait', doc.executionId, '--timeout', '20s'], env);
      expect(wait).toMatchObject({ code: 7, stdout: 'a\nb\n', stderr: '' });
      const after = JSON.parse(cli(['exec-poll', doc.executionId, '--json'], env).stdout);
      expect(after).toMatchObject({ status: 'completed', exitCode: 7, stdout: 'a\nb\n' });
      expect(journaled(doc.executionId)).toEqual([expect.objectContaining({ exitCode: 7 })]);
      // Read back and journaled: its logs are gone from the sandbox (the listing's own remain).
      const ls = cli(['exec', '--task', taskId, '--', 'ls', '/tmp/.opencode-sessions'], env);
      expect(ls.stdout.split('\n').filter((d) => d.startsWith('x-'))).toHaveLength(1);
    },
  );

  it('exec-kill from a new process kills an argv command that answered running', () => {
    const first = cli(
      [
        'exec',
        '--task',
        taskId,
        '--yield',
        '300ms',
        '--json',
        '--',
        'sh',
        '-c',
        'sleep 300 & sleep 301',
      ],
      env,
    );
    expect(first.code).toBe(75);
    const id = JSON.parse(first.stdout).executionId;
    const k = cli(['exec-kill', id, '--json'], env);
    expect(JSON.parse(k.stdout)).toMatchObject({
      status: 'completed',
      exitCode: null,
      killed: true,
    });
    const ps = cli(['exec', '--task', taskId, '--', 'ps', '-o', 'args'], env);
    expect(ps.stdout).not.toMatch(/sleep 30[01]/);
    expect(journaled(id)).toEqual([expect.objectContaining({ exitCode: null })]);
  });

  it('stdin reaches an argv command that answered running', () => {
    const first = cli(
      [
        'exec',
        '--task',
        taskId,
        '--yield',
        '300ms',
        '--stdin',
        '--json',
        '--',
        'sh',
        '-c',
        'cat; sleep 1; echo done',
      ],
      env,
      'piped in\n',
    );
    expect(first.code).toBe(75);
    const id = JSON.parse(first.stdout).executionId;
    const wait = cli(['exec-wait', id, '--timeout', '20s'], env);
    expect(wait).toMatchObject({ code: 0, stdout: 'piped in\ndone\n' });
  });
});
