import { join } from 'node:path';
import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { OPENCODE_OPTIONS, type OpenCodeToolsOptions } from '../../src/config/options';
import {
  LiveExecutionsService,
  RECORD_AFTER_MS,
} from '../../src/modules/docker/live-executions.service';
import { ExecutionsService } from '../../src/modules/history/executions.service';
import { OpenCodeToolsModule } from '../../src/opencode-tools.module';
import {
  RUNTIME_RECORD_STORE,
  type RuntimeRecordStore,
} from '../../src/ports/runtime-record-store.port';
import { assertBuilt, cli, cliSpawn } from '../helpers/cli';
import { tempHome } from '../helpers/temp-home';
import { describeDocker, TEST_IMAGE } from './engine';

jest.setTimeout(120_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A server-like process on `home`'s database (the CLI's default: `<home>/opencode.db`). */
async function boot(home: string): Promise<INestApplicationContext> {
  @Module({
    imports: [
      OpenCodeToolsModule.forRoot({
        home,
        database: { driver: 'sqlite', path: join(home, 'opencode.db') },
        sandboxImage: TEST_IMAGE,
        instanceId: 'exec-sweep-spec',
        sandbox: { stopGraceMs: 1000, pull: 'never' },
      }),
    ],
  })
  class TestModule {}
  return NestFactory.createApplicationContext(TestModule, { logger: false });
}

describeDocker('re-attachable executions: deadlines without a poller, key expiry', () => {
  const home = tempHome('oct-exec-sweep-');
  const env = { OPENCODE_HOME: home.dir, OPENCODE_SANDBOX_IMAGE: TEST_IMAGE };
  /** A CLI `exec` in the task's sandbox, running in the background. */
  const started = (args: string[]) => {
    const c = cliSpawn(['exec', '--task', taskId, ...args], env);
    const saw = async (text: string) => {
      for (let i = 0; i < 300 && !c.stdout().includes(text); i++) await sleep(50);
      expect(c.stdout()).toContain(text);
    };
    return { ...c, saw };
  };
  let taskId: string;
  let app: INestApplicationContext | undefined;

  beforeAll(() => {
    assertBuilt();
    const r = cli(['create-task', 'sweep', '--image', TEST_IMAGE, '--json'], env);
    expect(r.stderr).toBe('');
    taskId = JSON.parse(r.stdout).id;
  });
  afterAll(async () => {
    await app?.close();
    cli(['cleanup-task', taskId, '--force', '--yes'], env);
    home.cleanup();
  });

  it('a server kills commands past their timeout that no process runs, with nobody polling: one overdue when it starts, one due later', async () => {
    // Two commands answered `running` by CLI processes that then exited: nothing of theirs is
    // left to kill them at their timeout.
    const start = (timeout: string, tag: string) => {
      const r = cli(
        [
          'exec',
          '--task',
          taskId,
          '--yield',
          '300ms',
          '--timeout',
          timeout,
          '--json',
          '--shell',
          `echo started-${tag}; sleep 300 & sleep 301; echo never`,
        ],
        env,
      );
      expect(r.code).toBe(75);
      return JSON.parse(r.stdout).executionId as string;
    };
    const overdue = start('1s', 'a');
    const later = start('20s', 'b');
    // Let the first one's deadline (and the grace for its owner to act) pass with no server up.
    await sleep(3500);

    app = await boot(home.dir);
    const records = app.get<RuntimeRecordStore>(RUNTIME_RECORD_STORE);
    const executions = app.get(LiveExecutionsService);
    const journal = app.get(ExecutionsService);
    expect((await records.get('execution', later))?.status).toBe('running');
    executions.startTimer();
    // No poll, no wait: only the records are read until both are finished (bounded).
    for (let i = 0; i < 600; i++) {
      const [a, b] = await Promise.all([
        records.get('execution', overdue),
        records.get('execution', later),
      ]);
      if (a?.status === 'completed' && b?.status === 'completed') break;
      await sleep(100);
    }
    executions.stopTimer();
    for (const [id, tag] of [
      [overdue, 'a'],
      [later, 'b'],
    ] as const) {
      const rec = await records.get('execution', id);
      expect(rec).toMatchObject({ status: 'completed', data: { timedOut: true } });
      const j = await journal.get(id);
      expect(j).toMatchObject({ exitCode: null, timedOut: true, stdoutHead: `started-${tag}\n` });
    }
    const ps = cli(['exec', '--task', taskId, '--', 'ps', '-o', 'args'], env);
    expect(ps.stdout).not.toMatch(/sleep 30[01]/);
  });

  it('a CLI exec killed -9 before any answer: its command still dies at its timeout (a server sweeps it) and is journaled', async () => {
    app ??= await boot(home.dir);
    const records = app.get<RuntimeRecordStore>(RUNTIME_RECORD_STORE);
    const executions = app.get(LiveExecutionsService);
    const journal = app.get(ExecutionsService);
    // Before, such a command had no record until its yield window (or ever, without --yield):
    // it ran on past its timeout, for good.
    const child = started(['--timeout', '3s', '--shell', 'echo started-c; sleep 302']);
    await child.saw('started-c');
    await sleep(RECORD_AFTER_MS + 500);
    child.proc.kill('SIGKILL');
    await child.closed;
    const rec = (await records.list('execution', { status: ['running'] })).find((r) =>
      JSON.stringify(r.data).includes('started-c'),
    );
    expect(rec).toMatchObject({ taskId, status: 'running' });
    executions.startTimer();
    try {
      for (let i = 0; i < 300; i++) {
        if ((await records.get('execution', rec!.id))?.status === 'completed') break;
        await sleep(100);
      }
    } finally {
      executions.stopTimer();
    }
    expect(await records.get('execution', rec!.id)).toMatchObject({
      status: 'completed',
      data: { timedOut: true },
    });
    expect(await journal.get(rec!.id)).toMatchObject({
      exitCode: null,
      timedOut: true,
      stdoutHead: 'started-c\n',
    });
    const ps = cli(['exec', '--task', taskId, '--', 'ps', '-o', 'args'], env);
    expect(ps.stdout).not.toMatch(/sleep 302/);
  });

  it.each(['SIGINT', 'SIGTERM', 'SIGHUP'] as const)(
    'a CLI exec interrupted by %s kills its command in the sandbox and exits 128 + the signal',
    async (sig) => {
      const tag = `started-${sig}`;
      const child = started(['--shell', `echo ${tag}; sleep 303`]);
      await child.saw(tag);
      child.proc.kill(sig);
      const code = await child.closed;
      expect(code).toBe(128 + { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 }[sig]);
      // (A hang-up gets no message: its terminal is gone.)
      if (sig === 'SIGHUP') expect(child.stderr()).toBe('');
      else expect(child.stderr()).toContain(`${sig}: killing the command in the sandbox`);
      // Before, the CLI exited and left the command running.
      const ps = cli(['exec', '--task', taskId, '--', 'ps', '-o', 'args'], env);
      expect(ps.stdout).not.toMatch(/sleep 303/);
    },
  );

  it('an idempotency key expires after OPENCODE_EXEC_KEY_TTL: a replay before runs nothing, one after runs anew; expired records are purged', async () => {
    app ??= await boot(home.dir);
    const executions = app.get(LiveExecutionsService);
    const records = app.get<RuntimeRecordStore>(RUNTIME_RECORD_STORE);
    const options = app.get<OpenCodeToolsOptions>(OPENCODE_OPTIONS);
    const ttl = options.sandbox.execKeyTtlMs;
    expect(ttl).toBe(24 * 3_600_000);
    const run = () =>
      executions.run(taskId, {
        command: 'echo ran >> /workspace/key-runs; cat /workspace/key-runs | wc -l',
        idempotencyKey: 'nightly',
      });
    const first = await run();
    expect(first).toMatchObject({ status: 'completed', exitCode: 0 });
    const replay = await run();
    expect(replay).toMatchObject({ executionId: first.executionId, replayed: true });
    try {
      options.sandbox.execKeyTtlMs = 1;
      await sleep(20); // the key is now older than its TTL
      const again = await run();
      expect(again.replayed).toBeUndefined();
      expect(again.executionId).not.toBe(first.executionId);
      expect(again.stdout.trim()).toBe('2');
      // The first execution is still readable: from the journal, its record being gone.
      expect(await records.get('execution', first.executionId)).toBeNull();
      expect(await executions.wait(first.executionId, 0)).toMatchObject({
        status: 'completed',
        stdout: first.stdout,
      });
      // The purge (at a server's start and every 10 minutes) removes what expired.
      await sleep(20);
      expect(await executions.purgeExpired()).toBeGreaterThanOrEqual(1);
      expect(await records.get('execution', again.executionId)).toBeNull();
    } finally {
      options.sandbox.execKeyTtlMs = ttl;
    }
  });
});
