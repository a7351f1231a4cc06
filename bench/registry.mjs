// Registry benchmark (issue 2): the shipped SQLite adapter vs raw better-sqlite3 prepared statements
// doing the same work, on a 100K-task table; then `list-tasks --json` wall time on that database
// next to `node -e 0` and a bare Nest application context.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { dist, fmt, measure, median, printTable, require, root, tempDir } from './lib.mjs';

const N = Number(process.env.BENCH_TASKS ?? 100_000);
const BATCH = 1000;
const STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'];
const { createSqliteAdapters } = dist('adapters/sqlite/index.js');
const { newId } = dist('domain/ids.js');
const { listTasksSchema } = dist('domain/task.schema.js');
const Database = require('better-sqlite3');

function makeTasks(n, t0) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const at = new Date(t0 + i).toISOString();
    out.push({
      id: newId('tsk'),
      name: `task ${i}`,
      owner: `owner-${i % 20}`,
      mode: i % 3 ? 'exclusive' : 'collaborative',
      status: STATUSES[i % 5],
      metadata: { repo: `repo-${i % 50}`, n: i },
      version: 1,
      createdAt: at,
      updatedAt: at,
    });
  }
  return out;
}

// The raw side uses the adapter's own row mapping, so both sides do the same work.
const { toRow, fromRow } = dist('adapters/shared/task-row.js');

const home = tempDir();
try {
  // Two identical databases (same schema via the shipped migrations): one driven through the
  // adapter, one through raw prepared statements.
  const shipped = await createSqliteAdapters({
    path: join(home.dir, 'shipped.db'),
    busyTimeoutMs: 10_000,
  });
  const rawSetup = await createSqliteAdapters({
    path: join(home.dir, 'raw.db'),
    busyTimeoutMs: 10_000,
  });
  await rawSetup.close();
  const raw = new Database(join(home.dir, 'raw.db'));
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');

  const tasks = makeTasks(N, Date.parse('2026-01-01T00:00:00Z'));
  const rawInsert =
    raw.prepare(`INSERT INTO tasks (id, name, description, owner, mode, status, metadata, sandbox, version, created_at, updated_at, started_at, ended_at, result, error)
    VALUES (@id, @name, @description, @owner, @mode, @status, @metadata, @sandbox, @version, @created_at, @updated_at, @started_at, @ended_at, @result, @error)`);
  const rawBatch = raw.transaction((rows) => {
    for (const r of rows) rawInsert.run(r);
  });

  let t = performance.now();
  for (let i = 0; i < N; i += BATCH) await shipped.tasks.insertMany(tasks.slice(i, i + BATCH));
  const shippedInsertS = (performance.now() - t) / 1000;
  t = performance.now();
  for (let i = 0; i < N; i += BATCH) rawBatch.immediate(tasks.slice(i, i + BATCH).map(toRow));
  const rawInsertS = (performance.now() - t) / 1000;

  const ids = tasks.map((x) => x.id);
  let k = 0;
  const rawById = raw.prepare('SELECT * FROM tasks WHERE id = ?');
  const rawPage = raw.prepare(
    'SELECT * FROM tasks WHERE status IN (?) ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?',
  );
  const rawCount = raw.prepare('SELECT COUNT(*) AS n FROM tasks WHERE status IN (?)');
  const q = listTasksSchema.parse({ status: ['running'], limit: 100 });
  const r1 = await measure('read by id', {
    shipped: async () => {
      await shipped.tasks.findById(ids[(k = (k + 7919) % N)]);
    },
    raw: async () => {
      fromRow(rawById.get(ids[(k = (k + 7919) % N)]));
    },
  });
  const r2 = await measure('status page of 100, newest first (+ total)', {
    shipped: async () => {
      await shipped.tasks.list(q);
    },
    raw: async () => {
      rawPage.all('running', 100, 0).map(fromRow);
      rawCount.get('running');
    },
  });

  printTable(
    `Registry on ${fmt(N, 0)} tasks: shipped SQLite adapter vs raw better-sqlite3 (same work: row→object mapping, page + total)`,
    ['operation', 'shipped', 'raw', 'ratio (target ≥ 0.8)'],
    [
      [
        'batch insert (rows/s, batches of 1000)',
        fmt(N / shippedInsertS, 0),
        fmt(N / rawInsertS, 0),
        fmt(rawInsertS / shippedInsertS, 2),
      ],
      [
        'read by id (ops/s)',
        fmt(r1.shipped.hz, 0),
        fmt(r1.raw.hz, 0),
        fmt(r1.shipped.hz / r1.raw.hz, 2),
      ],
      [
        'status + newest-first page of 100 (ops/s)',
        fmt(r2.shipped.hz, 0),
        fmt(r2.raw.hz, 0),
        fmt(r2.shipped.hz / r2.raw.hz, 2),
      ],
    ],
  );
  await shipped.close();
  raw.close();

  // CLI wall time on the 100K database, bootstrap included.
  const env = {
    ...process.env,
    OPENCODE_HOME: home.dir,
    OPENCODE_DATABASE_URL: join(home.dir, 'shipped.db'),
  };
  const time = (args, runs = 7) => {
    const xs = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, args, {
        env,
        cwd: root,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
      xs.push(performance.now() - t0);
    }
    return median(xs);
  };
  const nodeMs = time(['-e', '0']);
  const bareMs = time([join(root, 'bench', 'bare-nest.cjs')]);
  const listMs = time([join(root, 'dist', 'main.js'), 'list-tasks', '--json']);
  const helpMs = time([join(root, 'dist', 'main.js'), '--version']);
  printTable(
    'CLI wall time (median of 7, bootstrap included)',
    ['command', 'ms', 'vs bare Nest (target ≤ 1.3)'],
    [
      ['node -e 0', fmt(nodeMs, 0), ''],
      ['bare Nest application context', fmt(bareMs, 0), '1.00'],
      ['opencode-tools --version', fmt(helpMs, 0), fmt(helpMs / bareMs, 2)],
      [
        `opencode-tools list-tasks --json (${fmt(N, 0)} tasks)`,
        fmt(listMs, 0),
        fmt(listMs / bareMs, 2),
      ],
    ],
  );
} finally {
  home.cleanup();
}
