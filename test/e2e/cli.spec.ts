import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { assertBuilt, BIN, cli, cliAsync } from '../helpers/cli';
import { tempHome } from '../helpers/temp-home';

describe('CLI end to end (built binary, real SQLite file)', () => {
  const home = tempHome('oct-cli-');
  const env = { OPENCODE_HOME: home.dir };
  const json = (args: string[]) => {
    const r = cli([...args, '--json'], env);
    if (r.code !== 0) throw new Error(`${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };

  beforeAll(() => assertBuilt());
  afterAll(() => home.cleanup());

  it('create -> list -> resume -> complete -> stats, with --json parsed', () => {
    const a = json([
      'create-task',
      'first task',
      '--owner',
      'alice',
      '--metadata',
      '{"repo":"api"}',
    ]);
    expect(a).toMatchObject({
      name: 'first task',
      owner: 'alice',
      status: 'pending',
      metadata: { repo: 'api' },
    });
    expect(a.id).toMatch(/^tsk_[0-9a-z]{26}$/);
    const b = json([
      'create-task',
      '--name',
      'second',
      '--owner',
      'bob',
      '--mode',
      'collaborative',
    ]);
    expect(existsSync(join(home.dir, 'opencode.db'))).toBe(true);

    const list = json(['list-tasks']);
    expect(list.total).toBe(2);
    expect(list.items.map((t: { id: string }) => t.id)).toEqual([b.id, a.id]);
    expect(json(['list-tasks', '--owner', 'alice']).items).toHaveLength(1);
    expect(json(['list-tasks', '--status', 'running']).total).toBe(0);

    expect(json(['resume-task', '--task', a.id]).status).toBe('running');
    const done = json([
      'complete-task',
      '--task',
      a.id,
      '--result',
      '{"pr":42}',
      '--message',
      'merged',
    ]);
    expect(done).toMatchObject({ status: 'completed', result: { pr: 42, message: 'merged' } });

    const stats = json(['task-stats']);
    expect(stats.total).toBe(2);
    expect(stats.byStatus).toMatchObject({ completed: 1, pending: 1 });
    expect(stats.durations.completed.count).toBe(1);

    expect(json(['find-task', 'REPO']).items.map((t: { id: string }) => t.id)).toEqual([a.id]);
    // find-task takes the list-tasks filters.
    expect(json(['find-task', 'REPO', '--status', 'completed', '--owner', 'alice']).total).toBe(1);
    expect(json(['find-task', 'REPO', '--status', 'pending,running']).total).toBe(0);
    expect(
      json(['find-task', 's', '--owner', 'bob']).items.map((t: { id: string }) => t.id),
    ).toEqual([b.id]);
    expect(json(['task-status', a.id]).status).toBe('completed');
  });

  it('prints aligned human tables', () => {
    const r = cli(['list-tasks'], env);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+STATUS\s+OWNER\s+MODE\s+CREATED$/);
    const col = lines[0].indexOf('STATUS');
    expect(
      lines
        .slice(1, -1)
        .every((l) => /^(pending|running|completed|failed|cancelled)/.test(l.slice(col))),
    ).toBe(true);
  });

  it.each([
    [['create-task', ''], 2, 'name: must not be empty'],
    [['create-task', 'x', '--mode', 'solo'], 2, 'mode: must be one of: exclusive, collaborative'],
    [['create-task', 'x', '--metadata', '{oops'], 2, '--metadata: malformed JSON'],
    [['create-task', 'x', '--metadata', '[1]'], 2, '--metadata: must be a JSON object'],
    [['list-tasks', '--status', 'done'], 2, 'status.0: must be one of'],
    [['list-tasks', '--limit', 'many'], 2, '--limit'],
    [['complete-task'], 2, '--task: is required'],
    [['task-status', '--task', 'tsk_missing'], 3, "task 'tsk_missing' not found"],
    [['fail-task', '--task', 'tsk_missing', '--error', 'x'], 3, 'not found'],
    [['list-tasks', '--frobnicate'], 2, "unknown option '--frobnicate'"],
    [['no-such-command'], 2, 'unknown command'],
  ])('%j exits %i with a one-line error', (args, code, message) => {
    const before = json(['list-tasks']).total;
    const r = cli(args as string[], env);
    expect(r.code).toBe(code);
    expect(r.stderr).toContain(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
    expect(json(['list-tasks']).total).toBe(before);
  });

  it('reports errors as JSON on stderr under --json', () => {
    const r = cli(['task-status', 'tsk_missing', '--json'], env);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stderr)).toMatchObject({ error: { code: 'NOT_FOUND' }, exitCode: 3 });
  });

  it('an illegal transition exits 4 naming the status and the allowed ones', () => {
    const t = json(['create-task', 'illegal']);
    const r = cli(['complete-task', t.id], env);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(
      'is pending; cannot move to completed (allowed next: running, cancelled)',
    );
  });

  it('a vetoing command hook exits 6 naming the hook; the task is unchanged', () => {
    const hooksFile = join(home.dir, 'veto-hooks.json');
    require('node:fs').writeFileSync(
      hooksFile,
      JSON.stringify({
        hooks: [
          {
            name: 'no-starts',
            event: 'beforeTaskStart',
            command: ['sh', '-c', 'echo frozen >&2; exit 1'],
          },
        ],
      }),
    );
    const t = json(['create-task', 'vetoed']);
    const r = cli(['resume-task', t.id], { ...env, OPENCODE_HOOKS_FILE: hooksFile });
    expect(r.code).toBe(6);
    expect(r.stderr).toContain("vetoed by hook 'no-starts' on beforeTaskStart: frozen");
    expect(json(['task-status', t.id])).toMatchObject({ status: 'pending', version: 1 });
  });

  it('two processes completing with the same version: exactly one wins, the other exits 4', async () => {
    const t = json(['create-task', 'race']);
    json(['resume-task', t.id]);
    const results = await Promise.all(
      [1, 2].map(() => cliAsync(['complete-task', t.id, '--expected-version', '2', '--json'], env)),
    );
    expect(results.map((r) => r.code).sort()).toEqual([0, 4]);
    const loser = results.find((r) => r.code === 4)!;
    expect(loser.stderr).toMatch(/CONFLICT|ILLEGAL_TRANSITION/);
    expect(json(['task-status', t.id])).toMatchObject({ status: 'completed', version: 3 });
  });

  it('cleanup asks for --yes when not on a terminal, then deletes', () => {
    const t = json(['create-task', 'to delete']);
    json(['cancel-task', t.id]);
    const refused = cli(['cleanup-task', t.id], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('pass --yes');
    expect(json(['cleanup-task', t.id, '--yes'])).toEqual({ deleted: [t.id] });
    expect(cli(['task-status', t.id], env).code).toBe(3);
    const running = json(['create-task', 'still running']);
    expect(cli(['cleanup-task', running.id, '--yes'], env).code).toBe(4);
    expect(json(['cleanup-task', running.id, '--yes', '--force'])).toEqual({
      deleted: [running.id],
    });
  });

  it('--help lists commands, environment and exit codes; each command has examples', () => {
    const r = cli(['--help'], env);
    expect(r.code).toBe(0);
    for (const c of [
      'create-task',
      'list-tasks',
      'find-task',
      'task-stats',
      'cleanup-task',
      'OPENCODE_HOME',
      'Exit codes',
    ]) {
      expect(r.stdout).toContain(c);
    }
    const sub = cli(['create-task', '--help'], env);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toContain('Examples:');
  });

  it('migrate reports the applied migrations', () => {
    const m = json(['migrate']);
    expect(m.database).toBe(`sqlite:${join(home.dir, 'opencode.db')}`);
    expect(m.migrations[0]).toBe('CreateTasks1764000000000');
  });

  it('an invalid environment variable is a usage error naming it', () => {
    const r = cli(['list-tasks'], { ...env, OPENCODE_MCP_PORT: 'eighty' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('OPENCODE_MCP_PORT');
  });

  it('an unusable database path exits 5 naming the setting', () => {
    const notADir = join(home.dir, 'plain-file');
    require('node:fs').writeFileSync(notADir, 'x');
    const r = cli(['list-tasks'], {
      OPENCODE_HOME: home.dir,
      OPENCODE_DATABASE_URL: join(notADir, 'x.db'),
    });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('OPENCODE_DATABASE_URL');
  });
});

describe('CLI output into a pipe the reader closes early', () => {
  it('stops quietly with exit 0 instead of an EPIPE stack trace', () => {
    assertBuilt();
    // `head -c 1` exits after one byte; the CLI's next writes hit a closed pipe.
    const many = spawnSync(
      'bash',
      [
        '-c',
        `for i in 1 2 3; do "${process.execPath}" "${BIN}" --help | head -c 1 >/dev/null; echo "\${PIPESTATUS[0]}"; done`,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(many.stderr).toBe('');
    expect(many.stdout.split('\n').filter(Boolean)).toEqual(['0', '0', '0']);
  });
});
