import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { assertBuilt, cli } from '../helpers/cli';
import { tempHome } from '../helpers/temp-home';

describe('task memory CLI (built binary, real SQLite file and JSONL logs)', () => {
  const home = tempHome('oct-hist-cli-');
  const env = { OPENCODE_HOME: home.dir, OPENCODE_SANDBOX_RUNTIME: 'memory' };
  const json = (args: string[]) => {
    const r = cli([...args, '--json'], env);
    if (r.code !== 0) throw new Error(`${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };

  beforeAll(() => assertBuilt());
  afterAll(() => home.cleanup());

  it('decision, checkpoint, restore, fork, history, executions — --json throughout', () => {
    const t = json(['create-task', 'memory demo']);
    json(['resume-task', t.id]);
    const d = json([
      'record-decision',
      '--task',
      t.id,
      '--agent',
      'claude',
      '--decision',
      'use pnpm',
      '--reasoning',
      'lockfile',
      '--metadata',
      '{"k":1}',
    ]);
    expect(d).toMatchObject({ agentId: 'claude', decision: 'use pnpm', metadata: { k: 1 } });

    const cp = cli(['checkpoint', '--task', t.id, '--description', 'first', '--json'], env);
    expect(cp.code).toBe(0);
    expect(cp.stderr).toMatch(/checkpoint chk_\w+: committing/); // progress on stderr
    const checkpoint = JSON.parse(cp.stdout);
    json(['record-decision', t.id, '--agent', 'claude', '--decision', 'later']);
    json(['cancel-task', t.id]);

    const list = json(['restore-checkpoint', '--task', t.id, '--list']);
    expect(list.items.map((c: { id: string }) => c.id)).toEqual([checkpoint.id]);
    const restored = json([
      'restore-checkpoint',
      '--task',
      t.id,
      '--checkpoint',
      checkpoint.id,
      '--quiet',
    ]);
    expect(restored.rewound.decisions).toBe(1);
    expect(restored.task.status).toBe('pending'); // a finished task is reopened by a restore

    const decisions = json(['task-decisions', '--task', t.id]);
    expect(
      decisions.items.map((x: { decision: string; rewoundBy?: string }) => [
        x.decision,
        x.rewoundBy,
      ]),
    ).toEqual([
      ['use pnpm', undefined],
      ['later', checkpoint.id],
    ]);
    const history = json(['task-history', '--task', t.id, '--tail', '3']);
    expect(history.entries.map((e: { message: string }) => e.message)).toEqual([
      `checkpoint ${checkpoint.id}: first`,
      'task cancelled',
      `restored to checkpoint ${checkpoint.id}: first`,
    ]);
    expect(history.entries.map((e: { rewoundBy?: string }) => e.rewoundBy)).toEqual([
      undefined,
      checkpoint.id,
      undefined,
    ]);
    const live = json([
      'task-history',
      t.id,
      '--no-rewound',
      '--level',
      'info',
      '--grep',
      'CHECKPOINT',
    ]);
    expect(live.entries).toHaveLength(2);

    const child = json([
      'fork-task',
      '--task',
      t.id,
      '--checkpoint',
      checkpoint.id,
      '--name',
      'kid',
      '--quiet',
    ]);
    expect(child).toMatchObject({ name: 'kid', status: 'pending' });
    expect(json(['task-decisions', child.id]).total).toBe(1);
    expect(json(['task-executions', '--task', t.id, '--failed'])).toMatchObject({
      items: [],
      total: 0,
    });
  });

  it('bad input: clear errors, exit codes, nothing written', () => {
    const t = json(['create-task', 'bad input']);
    const before = readdirSync(join(home.dir, 'logs')).length;
    const noText = cli(['record-decision', '--task', t.id, '--agent', 'a', '--json'], env);
    expect(noText.code).toBe(2);
    expect(JSON.parse(noText.stderr).error).toMatchObject({
      code: 'VALIDATION',
      message: expect.stringMatching(/^decision: is required/),
    });
    expect(json(['task-decisions', t.id]).total).toBe(0);

    const unknown = cli(['restore-checkpoint', '--task', t.id, '--checkpoint', 'chk_nope'], env);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toMatch(/checkpoint 'chk_nope' not found/);
    expect(cli(['restore-checkpoint', '--task', t.id], env).code).toBe(2); // neither --list nor --checkpoint

    json(['cancel-task', t.id]);
    json(['cleanup-task', t.id, '--yes']);
    const gone = cli(['checkpoint', '--task', t.id, '--description', 'late'], env);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toMatch(/task '.+' not found/);
    expect(existsSync(join(home.dir, 'checkpoints', t.id))).toBe(false);
    expect(readdirSync(join(home.dir, 'logs')).length).toBeLessThanOrEqual(before);
  });

  it('every command documents examples in --help', () => {
    for (const cmd of [
      'checkpoint',
      'restore-checkpoint',
      'fork-task',
      'delete-checkpoint',
      'task-history',
      'task-executions',
      'task-decisions',
      'record-decision',
    ]) {
      const r = cli([cmd, '--help'], env);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Examples?:\n {2}opencode-tools /);
      expect(r.stdout).toContain('--json');
    }
  });
});
