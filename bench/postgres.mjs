// Postgres benchmark (issue 7), standalone: `node bench/postgres.mjs` after `npm run build`.
// Starts its own throwaway cluster (skips loudly without PostgreSQL binaries; fails under CI=true).
//  1. One process: registry insert (single rows and batches of 1000), read by id, and lock
//     acquire+release through the shipped Postgres adapters vs raw `pg` issuing the same statements
//     (same pool settings, same row mapping). Two identical databases, one per side.
//  2. 1, 4 and 8 concurrent writer processes (a pool of 2 each, one operation in flight each):
//     registry inserts and acquire+release on a resource of their own, shipped vs raw, and how the
//     total scales with the number of processes.
// BENCH_PG_SECONDS sets the length of each multi-process round (default 1.5; median of 5 rounds).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dist, fmt, median, printTable, require } from './lib.mjs';
import { postgresBinDir, startPostgres } from './pg-server.mjs';

require('reflect-metadata');
const { Pool, Client } = require('pg');
const { createPostgresAdapters } = dist('adapters/postgres/index.js');
const { LockManager } = dist('modules/locks/lock-manager.service.js');
const { systemClock } = dist('ports/clock.port.js');
const { newId } = dist('domain/ids.js');
const { toRow, fromRow, TASK_COLUMNS } = dist('adapters/shared/task-row.js');

const SECONDS = Number(process.env.BENCH_PG_SECONDS ?? 1.5);
const ROUNDS = 5;
const PROCS = [1, 4, 8];

// ------------------------------------------------------------------- the raw side's statements

const iso = (c) => `to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
/** PostgresTaskRepository's SELECT list (JSON as text, timestamps as ISO text). */
const TASK_SELECT = `id, name, description, owner, mode, status, metadata::text AS metadata,
  sandbox::text AS sandbox, version, ${iso('created_at')} AS created_at,
  ${iso('updated_at')} AS updated_at, ${iso('started_at')} AS started_at,
  ${iso('ended_at')} AS ended_at, result::text AS result, error`;
const LOCK_COLUMNS = `resource, holder, mode, token::float8 AS token, count, ttl_ms AS "ttlMs",
  acquired_at::float8 AS "acquiredAt", renewed_at::float8 AS "renewedAt", expires_at::float8 AS "expiresAt"`;

function insertSql(rows) {
  const n = TASK_COLUMNS.length;
  const values = Array.from(
    { length: rows },
    (_, r) => `(${TASK_COLUMNS.map((_, c) => `$${r * n + c + 1}`).join(', ')})`,
  );
  return `INSERT INTO tasks (${TASK_COLUMNS.join(', ')}) VALUES ${values.join(', ')}`;
}
const INSERT_ONE = insertSql(1);

function rawSide(pool) {
  const tx = async (resource, fn) => {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [resource]);
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  };
  return {
    insert: (task) => {
      const r = toRow(task);
      return pool.query(
        INSERT_ONE,
        TASK_COLUMNS.map((k) => r[k]),
      );
    },
    insertMany: (tasks) =>
      pool.query(
        insertSql(tasks.length),
        tasks.flatMap((t) => {
          const r = toRow(t);
          return TASK_COLUMNS.map((k) => r[k]);
        }),
      ),
    findById: async (id) => {
      const { rows } = await pool.query(`SELECT ${TASK_SELECT} FROM tasks WHERE id = $1`, [id]);
      return rows[0] ? fromRow(rows[0]) : null;
    },
    acquireRelease: async (resource, holder, ttl) => {
      const ok = await tx(resource, async (c) => {
        const now = Date.now();
        await c.query('DELETE FROM lock_grants WHERE resource = $1 AND expires_at <= $2', [
          resource,
          now,
        ]);
        const live = await c.query(`SELECT ${LOCK_COLUMNS} FROM lock_grants WHERE resource = $1`, [
          resource,
        ]);
        if (live.rows.length) return false;
        const { rows } = await c.query(`SELECT nextval('lock_fencing_tokens')::float8 AS token`);
        await c.query(
          `INSERT INTO lock_grants (resource, holder, mode, token, count, ttl_ms, acquired_at, renewed_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [resource, holder, 'exclusive', rows[0].token, 1, ttl, now, now, now + ttl],
        );
        return true;
      });
      if (!ok) throw new Error('raw lock refused');
      await tx(resource, async (c) => {
        const own = await c.query(
          `SELECT ${LOCK_COLUMNS} FROM lock_grants WHERE resource = $1 AND holder = $2`,
          [resource, holder],
        );
        if (!own.rows[0]) throw new Error('raw release: not held');
        await c.query('DELETE FROM lock_grants WHERE resource = $1 AND holder = $2', [
          resource,
          holder,
        ]);
      });
    },
  };
}

function shippedSide(adapters) {
  const locks = new LockManager(adapters.locks, systemClock);
  return {
    insert: (task) => adapters.tasks.insert(task),
    insertMany: (tasks) => adapters.tasks.insertMany(tasks),
    findById: (id) => adapters.tasks.findById(id),
    acquireRelease: async (resource, holder, ttlMs) => {
      await locks.acquireLock(resource, holder, 'exclusive', { ttlMs });
      await locks.releaseLock(resource, holder);
    },
  };
}

let serial = 0;
function task() {
  const at = new Date().toISOString();
  const i = serial++;
  return {
    id: newId('tsk'),
    name: `task ${i}`,
    owner: `owner-${i % 20}`,
    mode: 'exclusive',
    status: 'pending',
    metadata: { repo: `repo-${i % 50}`, n: i },
    version: 1,
    createdAt: at,
    updatedAt: at,
  };
}

// -------------------------------------------------------------------------------- workers

if (process.argv[2] === '--worker') await worker(...process.argv.slice(3));
else await main();

/** One writer process: waits for "go <endAt>", then runs one operation at a time until then. */
async function worker(mode, impl, url, name) {
  let side;
  let close;
  if (impl === 'shipped') {
    const a = await createPostgresAdapters({
      url,
      poolSize: 2,
      connectTimeoutMs: 5000,
      home: '/tmp',
    });
    side = shippedSide(a);
    close = () => a.close();
  } else {
    const pool = new Pool({ connectionString: url, max: 2 });
    await pool.query('SELECT 1');
    side = rawSide(pool);
    close = () => pool.end();
  }
  const op = () =>
    mode === 'insert' ? side.insert(task()) : side.acquireRelease(`bench-${name}`, name, 30_000);
  // Warm up (JIT, statement paths) before the clock starts: otherwise 8 cold processes sharing
  // two cores measure mostly the interpreter.
  for (let i = 0; i < 300; i++) await op();
  process.stdout.write('ready\n');
  // Each "go <endAt>" line starts a timed run; "exit" ends the process.
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line === 'exit') break;
    const endAt = Number(line.split(' ')[1]);
    let ops = 0;
    while (Date.now() < endAt) {
      await op();
      ops++;
    }
    process.stdout.write(`${JSON.stringify({ ops })}\n`);
  }
  await close();
  process.exit(0);
}

/** Starts `n` warmed-up worker processes; `round()` runs them all for SECONDS, returning ops/s. */
async function startWorkers(n, mode, impl, url) {
  const self = fileURLToPath(import.meta.url);
  const procs = Array.from({ length: n }, (_, i) => {
    const c = spawn(process.execPath, [self, '--worker', mode, impl, url, `${impl}-${i}`], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines = [];
    let buf = '';
    let wake = () => undefined;
    c.stdout.on('data', (d) => {
      buf += d;
      let k;
      while ((k = buf.indexOf('\n')) >= 0) {
        lines.push(buf.slice(0, k));
        buf = buf.slice(k + 1);
        wake();
      }
    });
    const next = async () => {
      while (!lines.length) {
        if (c.exitCode !== null) throw new Error(`worker ${i} exited ${c.exitCode}`);
        await new Promise((r) => ((wake = r), setTimeout(r, 50)));
      }
      return lines.shift();
    };
    return { c, next };
  });
  await Promise.all(procs.map((p) => p.next()));
  return {
    async round() {
      const endAt = Date.now() + SECONDS * 1000;
      for (const p of procs) p.c.stdin.write(`go ${endAt}\n`);
      const rs = await Promise.all(procs.map(async (p) => JSON.parse(await p.next())));
      return rs.reduce((s, r) => s + r.ops, 0) / SECONDS;
    },
    async stop() {
      for (const p of procs) p.c.stdin.end('exit\n');
      await Promise.all(procs.map((p) => new Promise((r) => p.c.once('exit', r))));
    },
  };
}

/** Median ops/s of `ROUNDS` alternating rounds of n shipped and n raw writer processes. */
async function scaling(n, mode, urls) {
  const s = await startWorkers(n, mode, 'shipped', urls.shipped);
  const r = await startWorkers(n, mode, 'raw', urls.raw);
  const xs = { s: [], r: [] };
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const order = i % 2 ? ['r', 's'] : ['s', 'r'];
      for (const k of order) xs[k].push(await (k === 's' ? s : r).round());
    }
  } finally {
    await s.stop();
    await r.stop();
  }
  return { shipped: median(xs.s), raw: median(xs.r) };
}

// ----------------------------------------------------------------------------------- main

/**
 * Operations per second of each side by wall time (a round trip to the server dominates, so wall
 * time is what a caller sees) and this process's CPU µs per operation (the client-side cost):
 * the median of `rounds` runs, the sides taking turns and warmed up before each run.
 */
async function opsPerSecond(fns, { rounds = 7, iterations = 2000 } = {}) {
  const entries = Object.entries(fns);
  const wall = Object.fromEntries(entries.map(([k]) => [k, []]));
  const cpu = Object.fromEntries(entries.map(([k]) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [k, fn] of r % 2 ? [...entries].reverse() : entries) {
      for (let i = 0; i < iterations / 10; i++) await fn();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < iterations; i++) await fn();
      wall[k].push((iterations * 1000) / (performance.now() - t0));
      const c = process.cpuUsage(c0);
      cpu[k].push((c.user + c.system) / iterations);
    }
  }
  return Object.fromEntries(
    entries.map(([k]) => [k, { hz: median(wall[k]), cpuUs: median(cpu[k]) }]),
  );
}

async function createDatabase(url, name) {
  const c = new Client({ connectionString: url });
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  return url.replace(/\/[^/]*$/, `/${name}`);
}

async function main() {
  const bin = postgresBinDir();
  if (!bin) {
    const msg =
      'SKIPPED bench/postgres.mjs: no PostgreSQL server binaries (initdb, pg_ctl); apt-get install postgresql';
    if (process.env.CI === 'true') throw new Error(msg);
    console.log(`\n!!! ${msg}\n`);
    return;
  }
  const server = await startPostgres(bin);
  try {
    const urls = {
      shipped: await createDatabase(server.url, 'bench_shipped'),
      raw: await createDatabase(server.url, 'bench_raw'),
    };
    const open = (url) =>
      createPostgresAdapters({ url, poolSize: 10, connectTimeoutMs: 5000, home: '/tmp' });
    const adapters = await open(urls.shipped);
    const rawSetup = await open(urls.raw); // the same schema, by the shipped migrations
    await rawSetup.close();
    const pool = new Pool({ connectionString: urls.raw, max: 10 });
    const shipped = shippedSide(adapters);
    const raw = rawSide(pool);

    const rows = [];
    const row = (label, r) =>
      rows.push([
        label,
        fmt(r.shipped.hz, 0),
        fmt(r.raw.hz, 0),
        fmt(r.shipped.hz / r.raw.hz, 2),
        `${fmt(r.shipped.cpuUs, 0)} / ${fmt(r.raw.cpuUs, 0)}`,
      ]);
    row(
      'registry insert, one row (ops/s)',
      await opsPerSecond({ shipped: () => shipped.insert(task()), raw: () => raw.insert(task()) }),
    );
    const batchOf = () => Array.from({ length: 1000 }, task);
    const b = await opsPerSecond(
      { shipped: () => shipped.insertMany(batchOf()), raw: () => raw.insertMany(batchOf()) },
      { rounds: 3, iterations: 20 },
    );
    for (const k of ['shipped', 'raw']) b[k].hz *= 1000; // rows/s
    for (const k of ['shipped', 'raw']) b[k].cpuUs /= 1000; // per row
    row('registry insert, batches of 1000 (rows/s)', b);
    const idsOf = async (db) =>
      (await db.query('SELECT id FROM tasks ORDER BY id LIMIT 5000')).rows.map((r) => r.id);
    const shippedIds = await idsOf(adapters.tasks.pool);
    const rawIds = await idsOf(pool);
    let k = 0;
    row(
      'registry read by id (ops/s)',
      await opsPerSecond({
        shipped: async () => {
          if (!(await shipped.findById(shippedIds[(k = (k + 7) % shippedIds.length)])))
            throw new Error('missing');
        },
        raw: async () => {
          if (!(await raw.findById(rawIds[(k = (k + 7) % rawIds.length)])))
            throw new Error('missing');
        },
      }),
    );
    row(
      'lock acquire+release (pairs/s)',
      await opsPerSecond(
        {
          shipped: () => shipped.acquireRelease('bench', 'h', 30_000),
          raw: () => raw.acquireRelease('bench', 'h', 30_000),
        },
        { iterations: 1000 },
      ),
    );
    await adapters.close();
    await pool.end();
    printTable(
      'One process, Postgres (loopback, fsync=off): shipped adapters vs raw pg, same statements (median of rounds, wall time)',
      ['operation', 'shipped', 'raw pg', 'ratio (target ≥ 0.8)', 'client CPU µs/op shipped / raw'],
      rows,
    );

    const scale = [];
    for (const mode of ['insert', 'lock']) {
      const base = {};
      for (const n of PROCS) {
        const { shipped: s, raw: r } = await scaling(n, mode, urls);
        base.s ??= s;
        base.r ??= r;
        scale.push([
          mode === 'insert' ? 'registry insert (ops/s)' : 'lock acquire+release (pairs/s)',
          n,
          fmt(s, 0),
          fmt(r, 0),
          fmt(s / r, 2),
          `${fmt(s / base.s, 2)}× / ${fmt(r / base.r, 2)}×`,
        ]);
      }
    }
    printTable(
      `Concurrent writer processes (a pool of 2 connections and one operation in flight each; median of ${ROUNDS} rounds of ${SECONDS}s, sides alternating; the server shares the machine's cores)`,
      [
        'operation',
        'processes',
        'shipped total',
        'raw pg total',
        'ratio',
        'scaling vs 1 (shipped / raw)',
      ],
      scale,
    );
  } finally {
    server.stop();
  }
}
