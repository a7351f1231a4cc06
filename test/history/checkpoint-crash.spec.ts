import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointsService } from '../../src/modules/history/checkpoints.service';
import { TasksService } from '../../src/modules/tasks/tasks.service';
import { OpenCodeToolsModule } from '../../src/opencode-tools.module';
import { tempHome } from '../helpers/temp-home';

const CHILD = join(__dirname, 'fixtures', 'checkpoint-crash-child.js');
const DIST = join(__dirname, '..', '..', 'dist', 'opencode-tools.module.js');
const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 12);

async function boot(home: string) {
  @Module({
    imports: [OpenCodeToolsModule.forRoot({ home, sandbox: { runtime: 'memory' } } as never)],
  })
  class M {}
  return NestFactory.createApplicationContext(M, { logger: false });
}

/** Runs the child until it is ready, lets it work for `ms`, SIGKILLs it; returns what it reported. */
function runAndKill(
  home: string,
  taskId: string,
  ms: number,
): Promise<{ id: string; n: number }[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, home, taskId], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (c) => {
      out += c;
      if (!timer && out.includes('ready\n')) timer = setTimeout(() => child.kill('SIGKILL'), ms);
    });
    child.stderr.on('data', (c) => (err += c));
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL')
        return reject(new Error(`child ended on its own (${code}): ${err}`));
      const lines = out.split('\n').filter((l) => l.startsWith('{'));
      resolve(lines.map((l) => JSON.parse(l)));
    });
  });
}

/** Every file and directory under `dir`, relative. */
function walk(dir: string, base = dir): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory()
      ? [p.slice(base.length + 1), ...walk(p, base)]
      : [p.slice(base.length + 1)];
  });
}

describe('checkpoint creation killed at random points (child processes on the built code)', () => {
  beforeAll(() => {
    if (!existsSync(DIST))
      throw new Error(`${DIST} is missing: run "npm run build" (npm test does it first)`);
  });

  it(`leaves the old or the new checkpoint, never a partial one, over ${ROUNDS} kills`, async () => {
    const home = tempHome();
    try {
      let app = await boot(home.dir);
      const task = await app.get(TasksService).create({ name: 'crash target' });
      await app.close();
      const reported: { id: string; n: number }[] = [];
      let interruptedAt = 0;
      let halfDone = 0;
      for (let round = 0; round < ROUNDS; round++) {
        // Kill anywhere from before the first checkpoint to well into the loop.
        const got = await runAndKill(home.dir, task.id, Math.floor(Math.random() * 120));
        reported.push(...got);
        // What the kill left behind, before any sweep: evidence that kills land mid-creation.
        const pre = new Database(join(home.dir, 'opencode.db'), { readonly: true });
        const { n: half } = pre
          .prepare(`SELECT COUNT(*) AS n FROM checkpoints WHERE status = 'creating'`)
          .get() as { n: number };
        pre.close();
        if (half) halfDone++;

        // Start-up sweep: booting the app removes what the dead child left half-done.
        app = await boot(home.dir);
        const listed = await app.get(CheckpointsService).list(task.id);
        await app.close();

        const ids = new Set(listed.map((c) => c.id));
        for (const r of reported) expect(ids.has(r.id)).toBe(true); // every acknowledged one survived
        // At most one unacknowledged per kill (they add up over the rounds).
        const unacked = listed.length - reported.length;
        expect(unacked - interruptedAt).toBeLessThanOrEqual(1);
        expect(unacked - interruptedAt).toBeGreaterThanOrEqual(0);
        if (unacked > interruptedAt) interruptedAt++;

        const db = new Database(join(home.dir, 'opencode.db'), { readonly: true });
        const creating = db
          .prepare(`SELECT COUNT(*) AS n FROM checkpoints WHERE status <> 'ready'`)
          .get() as { n: number };
        db.close();
        expect(creating.n).toBe(0);

        const files = walk(join(home.dir, 'checkpoints'));
        expect(files.filter((f) => /\.tmp|tmp-/.test(f))).toEqual([]); // no temp leftovers
        expect(walk(join(home.dir, 'logs')).filter((f) => /tmp/.test(f))).toEqual([]);
        for (const cp of listed) {
          // Complete: its state matches its description, and its directory holds its manifest.
          expect(cp.state?.data.n).toBe(Number(cp.description.slice(2)));
          expect(cp.decisionMark).toBeGreaterThan(0);
          const manifest = join(home.dir, 'checkpoints', task.id, cp.id, 'manifest.json');
          expect(JSON.parse(readFileSync(manifest, 'utf8'))).toEqual(cp);
        }
        const taskDir = join(home.dir, 'checkpoints', task.id);
        const dirs = existsSync(taskDir) ? readdirSync(taskDir) : [];
        expect(dirs.sort()).toEqual([...ids].sort()); // no directory without a visible checkpoint
      }
      expect(reported.length).toBeGreaterThan(0);
      console.log(
        `${ROUNDS} kills: ${halfDone} left a half-created checkpoint (swept), ${interruptedAt} a committed but unacknowledged one; ${reported.length} acknowledged checkpoints all intact`,
      );
    } finally {
      home.cleanup();
    }
  }, 180_000);
});
