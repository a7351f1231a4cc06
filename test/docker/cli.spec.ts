import { assertBuilt, cli } from '../helpers/cli';
import { tempHome } from '../helpers/temp-home';
import { describeDocker, TEST_IMAGE } from './engine';

jest.setTimeout(120_000);

describeDocker('CLI exec, sandbox-status and reconcile (built binary, real engine)', () => {
  const home = tempHome('oct-docker-cli-');
  const env = { OPENCODE_HOME: home.dir, OPENCODE_SANDBOX_IMAGE: TEST_IMAGE };
  let taskId: string;

  beforeAll(() => {
    assertBuilt();
    const r = cli(['create-task', 'cli sandbox', '--image', TEST_IMAGE, '--json'], env);
    expect(r.stderr).toBe('');
    taskId = JSON.parse(r.stdout).id;
  });
  afterAll(() => {
    cli(['cleanup-task', taskId, '--force', '--yes'], env);
    home.cleanup();
  });

  it('streams stdout and stderr separately and exits with the command exit code', () => {
    const r = cli(
      ['exec', '--task', taskId, '--', 'sh', '-c', 'echo out; echo err >&2; exit 3'],
      env,
    );
    expect(r).toMatchObject({ code: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  it('--json prints one result document and exits 0', () => {
    const r = cli(
      ['exec', '--task', taskId, '--json', '--env', 'X=1', '--', 'sh', '-c', 'echo $X'],
      env,
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      exitCode: 0,
      stdout: '1\n',
      timedOut: false,
      truncated: false,
      stdoutBytes: 2,
      taskId,
      executionId: expect.stringMatching(/^exe_/),
    });
  });

  it('a timeout kills the command and exits 124; stdin is passed with --stdin', () => {
    const t = cli(['exec', '--task', taskId, '--timeout', '1s', '--', 'sleep', '60'], env);
    expect(t.code).toBe(124);
    expect(t.stderr).toMatch(/timed out after \d+ms/);
    const s = cli(['exec', '--task', taskId, '--stdin', '--', 'wc', '-c'], env, 'twelve bytes');
    expect(s.stdout.trim()).toBe('12');
  });

  it('usage errors exit 2; a missing task exits 3; an unreachable engine exits 5 naming DOCKER_HOST', () => {
    expect(cli(['exec', '--task', taskId], env).code).toBe(2);
    expect(cli(['exec', '--task', taskId, '--timeout', 'soon', '--', 'true'], env).code).toBe(2);
    expect(cli(['exec', '--task', 'tsk_nope', '--', 'true'], env).code).toBe(3);
    const down = cli(['exec', '--task', taskId, '--', 'true'], {
      ...env,
      DOCKER_HOST: 'unix:///nonexistent/docker.sock',
    });
    expect(down.code).toBe(5);
    expect(down.stderr).toMatch(/Docker engine unavailable at DOCKER_HOST=unix:\/\/\/nonexistent/);
    // Commands that need no sandbox keep working without the engine.
    const list = cli(['list-tasks', '--json'], {
      ...env,
      DOCKER_HOST: 'unix:///nonexistent/docker.sock',
    });
    expect(list.code).toBe(0);
  });

  it('sandbox-status and task-status show limits and a stats sample; reconcile adopts the live sandbox', () => {
    const s = cli(['sandbox-status', taskId, '--json'], env);
    const st = JSON.parse(s.stdout);
    expect(st.sandbox).toMatchObject({
      state: 'running',
      limits: { cpus: 1, memoryMb: 512, pids: 256 },
    });
    expect(st.stats.memoryLimitBytes).toBe(512 * 1024 * 1024);
    const ts = JSON.parse(cli(['task-status', taskId, '--json'], env).stdout);
    expect(ts).toMatchObject({ id: taskId, sandboxStatus: { sandbox: { state: 'running' } } });
    expect(ts.sandboxStatus.stats.pidsLimit).toBe(256);
    const r = cli(['reconcile', '--json'], env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).actions).toContainEqual(
      expect.objectContaining({ kind: 'adopted', taskId }),
    );
  });
});
