import { spawnSync } from 'node:child_process';
import { assertBuilt, cli } from '../helpers/cli';
import { tempHome } from '../helpers/temp-home';
import { describeDocker, TEST_IMAGE } from './engine';
import { startSecondEngine, type SecondEngine } from './second-engine';

jest.setTimeout(180_000);

/** Container names of a task's sandbox on one engine (all states). */
function containersOf(taskId: string, host?: string): string[] {
  const args = ['ps', '-a', '--filter', `label=opencode-tools.task-id=${taskId}`];
  const r = spawnSync(
    'docker',
    [...(host ? ['-H', host] : []), ...args, '--format', '{{.State}}'],
    {
      encoding: 'utf8',
    },
  );
  return r.stdout.split('\n').filter(Boolean);
}

/**
 * Two orchestrators that share one registry but each drive their own Docker engine (two hosts in
 * production; here the machine's engine and a second dockerd). Each sandbox is owned by the engine
 * that holds it: the other instance's reconciler leaves it alone, and commands sent to the wrong
 * instance fail with exit 5 naming the host instead of acting on nothing.
 */
describeDocker('sandboxes on two engines sharing one registry (built binary, real engines)', () => {
  const home = tempHome('oct-two-engines-');
  const a = { OPENCODE_HOME: home.dir, OPENCODE_SANDBOX_IMAGE: TEST_IMAGE };
  let b: Record<string, string>;
  let engine2: SecondEngine | undefined;
  let onA: string;
  let onB: string;

  beforeAll(async () => {
    assertBuilt();
    engine2 = await startSecondEngine();
    b = { ...a, DOCKER_HOST: engine2.host };
    const ra = cli(['create-task', 'on engine A', '--image', TEST_IMAGE, '--json'], a);
    expect(ra.stderr).toBe('');
    onA = JSON.parse(ra.stdout).id;
    const rb = cli(['create-task', 'on engine B', '--image', TEST_IMAGE, '--json'], b);
    expect(rb.stderr).toBe('');
    onB = JSON.parse(rb.stdout).id;
  });

  afterAll(() => {
    if (onA) cli(['cleanup-task', onA, '--force', '--yes'], a);
    if (onB) cli(['cleanup-task', onB, '--force', '--yes'], b ?? a);
    engine2?.stop();
    home.cleanup();
  });

  it('each sandbox is on the engine of the instance that created it', () => {
    expect(containersOf(onA)).toEqual(['running']);
    expect(containersOf(onA, engine2!.host)).toEqual([]);
    expect(containersOf(onB, engine2!.host)).toEqual(['running']);
    expect(containersOf(onB)).toEqual([]);
  });

  it("a reconciler leaves the other engine's live sandboxes alone and adopts its own", () => {
    for (const [env, mine, theirs] of [
      [b, onB, onA],
      [a, onA, onB],
    ] as const) {
      const r = cli(['reconcile', '--json'], env);
      expect(r.code).toBe(0);
      const actions = JSON.parse(r.stdout).actions as { kind: string; taskId: string }[];
      expect(actions).toContainEqual(expect.objectContaining({ kind: 'adopted', taskId: mine }));
      expect(actions.filter((x) => x.taskId === theirs)).toEqual([]);
    }
    for (const id of [onA, onB]) {
      expect(JSON.parse(cli(['task-status', id, '--json'], a).stdout).status).toBe('pending');
    }
  });

  it('commands for a sandbox on the other engine exit 5 naming its host; nothing runs', () => {
    const ex = cli(['exec', '--task', onA, '--', 'touch', '/workspace/x'], b);
    expect(ex.code).toBe(5);
    expect(ex.stderr).toMatch(
      new RegExp(`the sandbox of task ${onA} runs on the Docker engine of host .*send the call`),
    );
    const cp = cli(['checkpoint', onA, '--description', 'from the wrong host', '--quiet'], b);
    expect(cp.code).toBe(5);
    const st = JSON.parse(cli(['sandbox-status', onA, '--json'], b).stdout);
    expect(st.sandbox).toBeNull();
    expect(st.elsewhere).toMatchObject({ engineId: expect.any(String) });
    // Through its own instance everything works, and the refused command left no file.
    const ok = cli(['exec', '--task', onA, '--', 'ls', '/workspace'], a);
    expect(ok).toMatchObject({ code: 0, stdout: '' });
  });

  it('a running execution polled through the other instance is refused, not marked lost', () => {
    const started = cli(
      ['exec', '--task', onA, '--yield', '200ms', '--json', '--shell', 'sleep 3; echo done'],
      a,
    );
    expect(started.code).toBe(75);
    const id = JSON.parse(started.stdout).executionId as string;
    const poll = cli(['exec-poll', id], b);
    expect(poll.code).toBe(5);
    expect(poll.stderr).toMatch(/runs on the Docker engine of host/);
    const done = cli(['exec-wait', id, '--json'], a);
    expect(JSON.parse(done.stdout)).toMatchObject({ status: 'completed', stdout: 'done\n' });
  });

  it("a cancel through the other instance is finished by the owner's reconciler", () => {
    expect(cli(['cancel-task', onA, '--reason', 'done elsewhere'], b).code).toBe(0);
    expect(containersOf(onA)).toEqual(['running']); // B could not stop it
    const r = JSON.parse(cli(['reconcile', '--json'], a).stdout);
    expect(r.actions).toContainEqual(expect.objectContaining({ kind: 'stopped', taskId: onA }));
    expect(containersOf(onA)).toEqual(['exited']);
  });

  it("a delete through the other instance leaves an orphan the owner's reconciler removes", () => {
    expect(cli(['cleanup-task', onB, '--force', '--yes'], a).code).toBe(0);
    expect(containersOf(onB, engine2!.host)).toEqual(['running']);
    const r = JSON.parse(
      cli(['reconcile', '--json'], { ...b, OPENCODE_SANDBOX_ORPHAN_GRACE: '0' }).stdout,
    );
    expect(r.actions).toContainEqual(
      expect.objectContaining({ kind: 'removed-orphan', taskId: onB }),
    );
    expect(containersOf(onB, engine2!.host)).toEqual([]);
    onB = '';
  });
});
