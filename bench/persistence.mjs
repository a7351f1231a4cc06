// Persistence benchmark (issue 5), standalone: `node bench/persistence.mjs` after `npm run build`.
//  1. 1M log entries appended through the shipped JsonlLogStore (group commit) vs a raw batched
//     fs write of the same lines (1000-line batches, one writeSync each), with the same fsync policy:
//     `off` (no fsync) and `batch` (fdatasync per group / per batch). Both sides JSON.stringify.
//  2. Tail of the last 100 lines of that 1M-line log: LogStore.read({tail: 100}) (parsed, filtered)
//     vs a raw reverse-chunk read (last 64 KiB, split, no parsing).
//  3. Checkpoint and restore wall time through CheckpointsService: without a sandbox (state + log
//     position + decisions), and with a Docker sandbox holding a 100 MB workspace next to a raw
//     `docker commit` + archive of the same container (skipped when no engine / test image).
// BENCH_LOG_ENTRIES changes the entry count (default 1,000,000); BENCH_RUNS the repetitions (default 3).
import { closeSync, fdatasyncSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { dist, fmt, median, printTable, require, tempDir } from './lib.mjs';

require('reflect-metadata');
const { JsonlLogStore } = dist('adapters/jsonl/jsonl-log.store.js');
const { logQuerySchema } = dist('domain/history.js');

const N = Number(process.env.BENCH_LOG_ENTRIES ?? 1_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TS = '2026-01-01T00:00:00.000Z';
const entry = (i) => ({
  ts: TS,
  level: 'info',
  message: `step ${i} finished`,
  data: { i, ok: true },
});

function rawWrite(file, fsync) {
  const fd = openSync(file, 'a');
  const t0 = performance.now();
  let batch = [];
  for (let i = 0; i < N; i++) {
    batch.push(`${JSON.stringify(entry(i))}\n`);
    if (batch.length === 1000) {
      writeSync(fd, batch.join(''));
      if (fsync) fdatasyncSync(fd);
      batch = [];
    }
  }
  if (batch.length) {
    writeSync(fd, batch.join(''));
    if (fsync) fdatasyncSync(fd);
  }
  closeSync(fd);
  return performance.now() - t0;
}

async function storeWrite(dir, fsync) {
  const store = new JsonlLogStore({ dir, fsync: fsync ? 'batch' : 'off' });
  const t0 = performance.now();
  for (let i = 0; i < N; i++) store.append('tsk_bench', entry(i));
  await store.close(); // flushes the last group
  return performance.now() - t0;
}

function rawTail(file, n) {
  const t0 = performance.now();
  const fd = openSync(file, 'r');
  const size = statSync(file).size;
  const len = Math.min(size, 64 * 1024);
  const buf = Buffer.allocUnsafe(len);
  readSync(fd, buf, 0, len, size - len);
  closeSync(fd);
  const lines = buf.toString('utf8').trimEnd().split('\n').slice(-n);
  const ms = performance.now() - t0;
  if (lines.length !== n) throw new Error('raw tail short');
  return ms;
}

async function storeTail(dir, n) {
  const store = new JsonlLogStore({ dir });
  const q = logQuerySchema.parse({ tail: n });
  const t0 = performance.now();
  const r = await store.read('tsk_bench', q);
  const ms = performance.now() - t0;
  await store.close();
  if (r.entries.length !== n) throw new Error('store tail short');
  return ms;
}

async function logs() {
  const rows = [];
  let tailDir;
  const keep = [];
  for (const fsync of [false, true]) {
    const raw = [];
    const store = [];
    for (let r = 0; r < RUNS; r++) {
      // Alternate the order so neither side always runs on a warmer page cache.
      const a = tempDir();
      const b = tempDir();
      if (r % 2) {
        store.push(await storeWrite(b.dir, fsync));
        raw.push(rawWrite(join(a.dir, 'raw.jsonl'), fsync));
      } else {
        raw.push(rawWrite(join(a.dir, 'raw.jsonl'), fsync));
        store.push(await storeWrite(b.dir, fsync));
      }
      a.cleanup();
      if (!fsync && r === 0) {
        tailDir = b.dir;
        keep.push(b);
      } else b.cleanup();
    }
    const rawMs = median(raw);
    const storeMs = median(store);
    const policy = fsync ? 'batch (fdatasync per group)' : 'off (no fsync)';
    rows.push([
      `raw batched fs write, fsync ${policy}`,
      fmt((N / rawMs) * 1000, 0),
      fmt(rawMs, 0),
      '1.00x',
    ]);
    rows.push([
      `JsonlLogStore.append, fsync ${policy}`,
      fmt((N / storeMs) * 1000, 0),
      fmt(storeMs, 0),
      `${(rawMs / storeMs).toFixed(2)}x`,
    ]);
  }
  printTable(
    `${fmt(N, 0)} log entries, median of ${RUNS} runs (target: LogStore >= 0.8x raw)`,
    ['WRITER', 'LINES/S', 'MS', 'VS RAW'],
    rows,
  );

  const file = join(tailDir, 'tsk_bench.jsonl');
  const size = statSync(file).size;
  const rawT = [];
  const storeT = [];
  for (let r = 0; r < 20; r++) {
    rawT.push(rawTail(file, 100));
    storeT.push(await storeTail(tailDir, 100));
  }
  printTable(
    `tail of the last 100 lines of that log (${fmt(size / 1024 / 1024, 0)} MiB), median of 20`,
    ['READER', 'MS'],
    [
      ['raw reverse-chunk read (64 KiB, split, no parse)', fmt(median(rawT), 3)],
      ['JsonlLogStore.read({tail: 100}) (parsed, validated)', fmt(median(storeT), 3)],
    ],
  );
  for (const k of keep) k.cleanup();
}

async function checkpoints() {
  const { NestFactory } = require('@nestjs/core');
  const { OpenCodeToolsModule } = dist('opencode-tools.module.js');
  const { TasksService } = dist('modules/tasks/tasks.service.js');
  const { CheckpointsService } = dist('modules/history/checkpoints.service.js');
  const { TaskStateService } = dist('modules/history/task-state.service.js');
  const { DecisionsService } = dist('modules/history/decisions.service.js');
  const { TaskLogService } = dist('modules/history/task-log.service.js');
  const home = tempDir();
  const app = await NestFactory.createApplicationContext(
    OpenCodeToolsModule.forRoot({ home: home.dir }),
    { logger: false },
  );
  try {
    const t = await app.get(TasksService).create({ name: 'bench' });
    await app.get(TaskStateService).put(t.id, { blob: 'x'.repeat(100_000) }, 0);
    for (let i = 0; i < 100; i++) {
      await app.get(DecisionsService).record({ taskId: t.id, agentId: 'a', decision: `d${i}` });
    }
    const log = app.get(TaskLogService);
    for (let i = 0; i < 10_000; i++) log.append(t.id, 'info', `line ${i}`);
    const cps = app.get(CheckpointsService);
    const create = [];
    const restore = [];
    for (let r = 0; r < 20; r++) {
      let t0 = performance.now();
      const cp = await cps.create({ taskId: t.id, description: `bench ${r}` });
      create.push(performance.now() - t0);
      t0 = performance.now();
      await cps.restore(t.id, cp.id);
      restore.push(performance.now() - t0);
    }
    printTable(
      'checkpoint / restore without a sandbox (100 KB state, 100 decisions, 10K log lines), median of 20',
      ['OPERATION', 'MS'],
      [
        ['createCheckpoint (SQLite + manifest file, fsync)', fmt(median(create), 2)],
        ['restoreCheckpoint', fmt(median(restore), 2)],
      ],
    );
  } finally {
    await app.close();
    home.cleanup();
  }
}

async function sandboxCheckpoints() {
  const Docker = require('dockerode');
  const image = process.env.OPENCODE_SANDBOX_IMAGE ?? 'opencode-tools-test:busybox';
  const client = new Docker();
  try {
    await client.ping();
    await client.getImage(image).inspect();
  } catch (err) {
    console.log(
      `\n## checkpoint with a 100 MB sandbox workspace: skipped (${err.code ?? err.message})`,
    );
    return;
  }
  const { NestFactory } = require('@nestjs/core');
  const { OpenCodeToolsModule } = dist('opencode-tools.module.js');
  const { TasksService } = dist('modules/tasks/tasks.service.js');
  const { CheckpointsService } = dist('modules/history/checkpoints.service.js');
  const { SandboxService } = dist('modules/docker/sandbox.service.js');
  const { createWriteStream } = require('node:fs');
  const { pipeline } = require('node:stream/promises');
  const home = tempDir();
  const app = await NestFactory.createApplicationContext(
    OpenCodeToolsModule.forRoot({ home: home.dir, sandbox: { runtime: 'docker', pull: 'never' } }),
    { logger: false },
  );
  const tasks = app.get(TasksService);
  let taskId;
  try {
    const t = await tasks.create({ name: 'bench-sandbox', sandbox: { image } });
    taskId = t.id;
    await tasks.start(t.id);
    const sb = app.get(SandboxService);
    const r = await sb.exec(t.id, {
      command: ['sh', '-c', 'dd if=/dev/urandom of=/workspace/big.bin bs=1M count=100 2>/dev/null'],
      timeoutMs: 120_000,
    });
    if (r.exitCode !== 0) throw new Error(`filling the workspace failed: ${r.stderr}`);
    const cps = app.get(CheckpointsService);
    const rows = [];
    const create = [];
    const restore = [];
    const raw = [];
    for (let i = 0; i < 3; i++) {
      let t0 = performance.now();
      const cp = await cps.create({ taskId: t.id, description: `bench ${i}` });
      create.push(performance.now() - t0);
      t0 = performance.now();
      await cps.restore(t.id, cp.id);
      restore.push(performance.now() - t0);
      // Raw: the same two engine calls the snapshotter makes, without the service around them.
      const c = client.getContainer(`oct-${t.id}`);
      t0 = performance.now();
      const img = await c.commit({ repo: 'oct-bench-raw', tag: `r${i}`, pause: true });
      await pipeline(
        await c.getArchive({ path: '/workspace' }),
        createWriteStream(join(home.dir, `raw${i}.tar`)),
      );
      raw.push(performance.now() - t0);
      await client.getImage(img.Id).remove({ force: true });
      await cps.delete(t.id, cp.id);
    }
    rows.push(['raw docker commit + /workspace archive to a file', fmt(median(raw), 0)]);
    rows.push(['createCheckpoint (commit + archive + fsync + records)', fmt(median(create), 0)]);
    rows.push([
      'restoreCheckpoint (re-create container + volume, extract)',
      fmt(median(restore), 0),
    ]);
    printTable(
      'checkpoint / restore of a Docker sandbox with a 100 MB workspace, median of 3',
      ['OPERATION', 'MS'],
      rows,
    );
  } finally {
    if (taskId) await tasks.delete(taskId, { force: true }).catch(() => undefined);
    await app.close();
    home.cleanup();
  }
}

await logs();
await checkpoints();
await sandboxCheckpoints();
