import { spawn } from 'node:child_process';
import { assertBuilt, BIN, cli } from '../helpers/cli';
import { tempHome } from '../helpers/temp-home';
import { describeDocker, TEST_IMAGE } from './engine';

jest.setTimeout(120_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeDocker(
  'executions survive the death of the process that started them (built binary)',
  () => {
    const home = tempHome('oct-exec-restart-');
    const env = { OPENCODE_HOME: home.dir, OPENCODE_SANDBOX_IMAGE: TEST_IMAGE };
    let taskId: string;
    /** `exec --yield <after> --json …`: answers `running` (exit 75) if the command outlives it. */
    const yielded = (after: string, command: string[], e: Record<string, string> = env) =>
      cli(['exec', '--task', taskId, '--yield', after, '--json', ...command], e);
    const script =
      'echo run >> /workspace/runs; for i in 1 2 3 4 5; do echo line$i; sleep 0.5; done; echo bye >&2; exit 7';

    beforeAll(() => {
      assertBuilt();
      const r = cli(['create-task', 'restart', '--image', TEST_IMAGE, '--json'], env);
      expect(r.stderr).toBe('');
      taskId = JSON.parse(r.stdout).id;
    });
    afterAll(() => {
      cli(['cleanup-task', taskId, '--force', '--yes'], env);
      home.cleanup();
    });

    it('a command keeps running through kill -9 of its server; a replay reads it to the end and does not run it twice', async () => {
      const child = spawn(
        process.execPath,
        [BIN, 'exec', '--task', taskId, '--idempotency-key', 'job-1', '--shell', script],
        { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env } },
      );
      let seen = '';
      child.stdout.on('data', (c) => (seen += c));
      for (let i = 0; i < 100 && !seen.includes('line2'); i++) await sleep(50);
      expect(seen).toContain('line2');
      child.kill('SIGKILL');
      await new Promise((r) => child.on('close', r));
      // A new process, same key: the first execution, read to its end from the sandbox's logs.
      const r = cli(
        ['exec', '--task', taskId, '--idempotency-key', 'job-1', '--json', '--shell', script],
        env,
      );
      if (!r.stdout) throw new Error(`replay: code ${r.code} ${r.stderr}`);
      const doc = JSON.parse(r.stdout);
      expect(doc).toMatchObject({
        status: 'completed',
        replayed: true,
        exitCode: 7,
        stdout: 'line1\nline2\nline3\nline4\nline5\n',
        stderr: 'bye\n',
      });
      const runs = cli(['exec', '--task', taskId, '--', 'cat', '/workspace/runs'], env);
      expect(runs.stdout).toBe('run\n');
      // Journaled once, with the exit code.
      const hist = cli(['task-executions', '--task', taskId, '--json'], env);
      const items = JSON.parse(hist.stdout).items as { id: string; exitCode: number }[];
      expect(items.filter((e) => e.id === doc.executionId)).toEqual([
        expect.objectContaining({ exitCode: 7 }),
      ]);
    });

    it('exec --yield answers 75 with the id; exec-poll and exec-wait continue it from new processes', () => {
      const first = yielded('700ms', [
        '--shell',
        'for i in 1 2 3 4; do echo n$i; sleep 0.5; done; exit 4',
      ]);
      expect(first.code).toBe(75);
      const doc = JSON.parse(first.stdout);
      expect(doc.status).toBe('running');
      const poll = cli(['exec-poll', '--execution', doc.executionId, '--json'], env);
      expect(poll.code).toBe(0);
      const p = JSON.parse(poll.stdout);
      expect(p.stdout.startsWith('n1\n')).toBe(true);
      const wait = cli(['exec-wait', doc.executionId, '--timeout', '20s'], env);
      expect(wait).toMatchObject({ code: 4, stdout: 'n1\nn2\nn3\nn4\n' });
      const rest = cli(
        ['exec-poll', doc.executionId, '--stdout-offset', String(p.stdoutOffset), '--json'],
        env,
      );
      expect(p.stdout + JSON.parse(rest.stdout).stdout).toBe('n1\nn2\nn3\nn4\n');
    });

    it('a command that wrote more than a restarted process reads back still ends, with its byte counts and its last lines', async () => {
      // 17 MB on stdout and 17 MB on stderr (more than the 16 MiB read back from the start) after
      // the process that started it is gone, then a last line on each and exit 5.
      const big = (n: string, fd: string) =>
        `head -c 17000000 /dev/zero | tr '\\0' ${n} >&${fd}; echo; echo last-${n} >&${fd}`;
      const first = yielded('300ms', [
        '--shell',
        `sleep 1; ${big('o', '1')}; ${big('e', '2')}; exit 5`,
      ]);
      expect(first.code).toBe(75);
      const id = JSON.parse(first.stdout).executionId as string;
      // Output kept per stream: 64 KiB (head and tail), so the answer fits the helper's buffer.
      const wait = cli(['exec-wait', id, '--timeout', '25s', '--json'], {
        ...env,
        OPENCODE_EXEC_OUTPUT_CAP: '65536',
      });
      const doc = JSON.parse(wait.stdout);
      expect(doc).toMatchObject({
        status: 'completed',
        exitCode: 5,
        truncated: true,
        // Each block's bare `echo` writes its newline to stdout.
        stdoutBytes: 17_000_000 + 1 + 'last-o\n'.length + 1,
        stderrBytes: 17_000_000 + 'last-e\n'.length,
      });
      expect(doc.stdout.startsWith('ooo')).toBe(true);
      expect(doc.stdout.endsWith('ooo\nlast-o\n\n')).toBe(true);
      expect(doc.stderr.endsWith('eeelast-e\n')).toBe(true);
      // Journaled once, with the same counts.
      const hist = cli(['task-executions', '--task', taskId, '--json'], env);
      const items = JSON.parse(hist.stdout).items as { id: string; stdoutBytes: number }[];
      expect(items.filter((e) => e.id === id)).toEqual([
        expect.objectContaining({ exitCode: 5, stdoutBytes: 17_000_009 }),
      ]);
    });

    it('a log is capped (OPENCODE_EXEC_LOG_MAX): a flood with nobody reading stops at the cap, and the command still ends', async () => {
      const capped = {
        ...env,
        OPENCODE_EXEC_LOG_MAX: '1048576',
        OPENCODE_EXEC_OUTPUT_CAP: '65536',
      };
      const flood = "head -c 3000000 /dev/zero | tr '\\0' a; exit 3";
      // A session command and a wrapped (argv) one, each answered `running` and left by its
      // process: Docker drains their output, only the logs keep it.
      const started = [
        yielded('300ms', ['--shell', `sleep 1; ${flood}`], capped),
        yielded('300ms', ['--', 'sh', '-c', `sleep 1; ${flood}`], capped),
      ];
      for (const r of started) expect(r.code).toBe(75);
      await sleep(4000);
      const sizes = cli(
        ['exec', '--task', taskId, '--', 'sh', '-c', 'wc -c /tmp/.opencode-sessions/*/out'],
        env,
      );
      const logs = [...sizes.stdout.matchAll(/^\s*(\d+) \S+\/out$/gm)].map((m) => Number(m[1]));
      expect(logs.filter((n) => n === 1048576)).toHaveLength(2);
      expect(Math.max(...logs)).toBe(1048576);
      for (const r of started) {
        const id = JSON.parse(r.stdout).executionId as string;
        const wait = cli(['exec-wait', id, '--timeout', '20s', '--json'], capped);
        const doc = JSON.parse(wait.stdout);
        expect(doc).toMatchObject({ status: 'completed', exitCode: null, timedOut: false });
        expect(doc.stdoutBytes).toBeGreaterThan(1_000_000);
        expect(doc.stdoutBytes).toBeLessThanOrEqual(1048576);
        expect(doc.stderr).toContain('filled its log in the sandbox (1 MiB per stream)');
      }
      // A live command is not affected: all of its output, its exit code.
      const live = cli(['exec', '--task', taskId, '--json', '--shell', flood], capped);
      expect(JSON.parse(live.stdout)).toMatchObject({ exitCode: 3, stdoutBytes: 3_000_000 });
    });

    it('exec-kill from another process kills it; unknown ids exit 3', () => {
      const first = yielded('300ms', ['--shell', 'sleep 300 & sleep 301']);
      const id = JSON.parse(first.stdout).executionId;
      const k = cli(['exec-kill', id, '--json'], env);
      expect(JSON.parse(k.stdout)).toMatchObject({
        status: 'completed',
        exitCode: null,
        killed: true,
      });
      const ps = cli(['exec', '--task', taskId, '--', 'ps', '-o', 'args'], env);
      expect(ps.stdout).not.toMatch(/sleep 30[01]/);
      expect(cli(['exec-wait', 'exe_nope'], env).code).toBe(3);
    });
  },
);
