// Dashboard benchmark (issue 8): with 10K tasks in the SQLite registry, how long the list takes to
// show its first rows in headless Chromium (from navigation start), and how much memory the real
// `serve` process holds with 20 dashboards open and following live while tasks change.
//
// Standalone: `npm run build && node bench/dashboard.mjs` (BENCH_DASH_TASKS, BENCH_DASH_VIEWERS,
// BENCH_DASH_CHANGES to resize; CHROMIUM_PATH for another browser). Needs Debian's chromium
// (apt-get install -y chromium); without it the browser figures are skipped with a message.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { dist, fmt, median, printTable, require, root, tempDir } from './lib.mjs';

const TASKS = Number(process.env.BENCH_DASH_TASKS ?? 10_000);
const VIEWERS = Number(process.env.BENCH_DASH_VIEWERS ?? 20);
const CHANGES = Number(process.env.BENCH_DASH_CHANGES ?? 200);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const BIN = join(root, 'dist', 'main.js');

/** Inserts TASKS tasks in one transaction through the repository port (the seeding is not measured). */
async function seed(home) {
  require('reflect-metadata');
  const { NestFactory } = require('@nestjs/core');
  const { Module } = require('@nestjs/common');
  const { OpenCodeToolsModule } = dist('opencode-tools.module.js');
  const { TASK_REPOSITORY } = dist('ports/task-repository.port.js');
  const { newId } = dist('domain/ids.js');
  class SeedRoot {}
  Module({})(SeedRoot);
  const app = await NestFactory.createApplicationContext(
    {
      module: SeedRoot,
      imports: [OpenCodeToolsModule.forRoot({ home, sandbox: { runtime: 'memory' } })],
    },
    { logger: false },
  );
  const statuses = ['pending', 'running', 'completed', 'failed', 'cancelled'];
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const tasks = Array.from({ length: TASKS }, (_, i) => {
    const at = new Date(t0 + i * 1000).toISOString();
    return {
      id: newId('tsk'),
      name: `task ${i} <b>fix flaky test</b>`,
      owner: `agent-${i % 7}`,
      mode: i % 3 ? 'exclusive' : 'collaborative',
      status: statuses[i % 5],
      metadata: { n: i },
      version: 1,
      createdAt: at,
      updatedAt: at,
    };
  });
  const repo = app.get(TASK_REPOSITORY);
  await repo.insertMany(tasks);
  // The feed's deletion check (one indexed lookup per shown id, in chunks of 1,000), against
  // what a full scan of every id would cost.
  const ids = tasks.map((t) => t.id);
  const time = async (fn) => {
    const ms = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      await fn();
      ms.push(performance.now() - t);
    }
    return median(ms);
  };
  const check = async (n) => {
    for (let i = 0; i < n; i += 1000) await repo.existingIds(ids.slice(i, Math.min(n, i + 1000)));
  };
  const deletionCheck = [
    ['50 shown ids (one page)', fmt(await time(() => check(50)))],
    ['1,000 shown ids', fmt(await time(() => check(1000)))],
    ['5,000 shown ids (the cap)', fmt(await time(() => check(5000)))],
    [
      `for comparison: every task of ${TASKS} (list, full rows, 1,000 a page)`,
      fmt(
        await time(async () => {
          for (let offset = 0; offset < TASKS; offset += 1000)
            await repo.list({ limit: 1000, offset, sort: 'createdAt', order: 'desc' });
        }),
      ),
    ],
  ];
  await app.close();
  return deletionCheck;
}

function startServe(home) {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--json'], {
    env: { PATH: process.env.PATH, OPENCODE_HOME: home, OPENCODE_SANDBOX_RUNTIME: 'memory' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    child.stdout.on('data', (c) => {
      out += c;
      if (out.includes('\n')) resolve({ child, base: JSON.parse(out).url.replace(/\/mcp$/, '') });
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

/** The server's own view of its heap (from its /metrics), MiB. */
async function heapMiB(base) {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1]) / 1048576;
}

async function viewerCount(base) {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(/^opencode_dashboard_viewers (\d+)$/m.exec(text)?.[1]);
}

/** Creates and starts `n` tasks over MCP; returns ms per change (a create or a start). */
async function churn(base, n, prefix) {
  const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
  const sdk = require('@modelcontextprotocol/sdk/client/streamableHttp.js');
  const mcp = new Client({ name: 'bench', version: '0' });
  await mcp.connect(new sdk.StreamableHTTPClientTransport(new URL(`${base}/mcp`)));
  const t0 = performance.now();
  let last;
  for (let i = 0; i < n; i++) {
    const args = { name: `${prefix} ${i}` };
    const r = await mcp.callTool({ name: 'create_task_sandbox', arguments: args });
    last = r.structuredContent.taskId;
    await mcp.callTool({ name: 'resume_task', arguments: { taskId: last } });
  }
  const perChange = (performance.now() - t0) / (2 * n);
  await mcp.close();
  return { perChange, last };
}

/** CPU time (user + system) the process has used, ms (clock ticks of 10 ms). */
const cpuMs = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};

const rssMiB = (pid) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

async function main() {
  const home = tempDir('oct-bench-dash-');
  let serve;
  let browser;
  try {
    const s0 = performance.now();
    const deletionCheck = await seed(home.dir);
    printTable(
      'dashboard: the change poll looking for deletions (SQLite, in-process, every 2 s)',
      ['what', 'median ms'],
      deletionCheck,
    );
    console.log(`seeded ${TASKS} tasks in ${fmt(performance.now() - s0, 0)} ms (not measured)`);
    serve = await startServe(home.dir);
    const { base, child } = serve;

    // Server side alone: the first page of the list, as the page asks for it.
    const apiMs = [];
    for (let i = 0; i < 30; i++) {
      const t = performance.now();
      const r = await fetch(`${base}/api/tasks?limit=50&offset=0`);
      const body = await r.json();
      if (body.total !== TASKS) throw new Error(`expected ${TASKS} tasks, got ${body.total}`);
      apiMs.push(performance.now() - t);
    }
    const rows = [
      ['GET /api/tasks (first page of 50, total 10K)', fmt(apiMs[0]), fmt(median(apiMs))],
    ];
    const q0 = cpuMs(child.pid);
    const quiet = await churn(base, Math.ceil(CHANGES / 4), 'quiet');
    const quietCpu = (cpuMs(child.pid) - q0) / (2 * Math.ceil(CHANGES / 4));
    const idle = { rss: rssMiB(child.pid), heap: await heapMiB(base) };

    // serve's CPU while one dashboard is open and nothing changes: the shared poll (changes and
    // deletions) every 2 s, with the 50 ids of one page shown, then with 5,000 (the cap).
    const idleCpu = async () => {
      const c0 = cpuMs(child.pid);
      await new Promise((r) => setTimeout(r, 10_000));
      return (cpuMs(child.pid) - c0) / 10;
    };
    const sse = new AbortController();
    const stream = await fetch(`${base}/api/events`, { signal: sse.signal });
    const drain = stream.body.getReader();
    void (async () => {
      while (!(await drain.read().catch(() => ({ done: true }))).done);
    })();
    const idle50 = await idleCpu();
    for (let offset = 0; offset < 5000; offset += 50) {
      await (await fetch(`${base}/api/tasks?limit=50&offset=${offset}`)).json();
    }
    const idle5k = await idleCpu();
    sse.abort();
    console.log(
      `serve CPU with one dashboard open and no changes (shared poll every 2 s): ` +
        `${fmt(idle50)} ms/s with 50 shown ids, ${fmt(idle5k)} ms/s with 5,000`,
    );

    if (!existsSync(CHROMIUM)) {
      printTable('dashboard: list with 10K tasks', ['what', 'first ms', 'median ms'], rows);
      console.log(
        `\n!!! ${CHROMIUM} missing: browser figures skipped (apt-get install -y chromium)`,
      );
      return;
    }
    const { chromium } = require('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });

    // First contentful view: navigation start → the first rows of the list are in the DOM.
    const views = [];
    const fcp = [];
    for (let i = 0; i < 6; i++) {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await ctx.newPage();
      await page.goto(`${base}/`);
      await page.waitForSelector('#task-rows tr[data-id]');
      views.push(await page.evaluate(() => performance.now()));
      fcp.push(
        await page.evaluate(
          () => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN,
        ),
      );
      await ctx.close();
    }
    rows.push(
      [
        'list rows in the DOM, from navigation start (fresh browser context)',
        fmt(views[0]),
        fmt(median(views)),
      ],
      ['first-contentful-paint (browser metric)', fmt(fcp[0]), fmt(median(fcp))],
    );
    printTable(
      `dashboard: list with ${TASKS} tasks (target < 1000 ms)`,
      ['what', 'first ms', 'median ms'],
      rows,
    );

    // Memory of the server with VIEWERS dashboards following live while tasks change.
    // One browser context per viewer: a browser allows 6 connections per host over HTTP/1.1, and
    // each open dashboard holds one for its change feed (see README).
    const contexts = [];
    const pages = [];
    for (let i = 0; i < VIEWERS; i++) {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      contexts.push(ctx);
      const page = await ctx.newPage();
      await page.goto(`${base}/`);
      await page.waitForSelector('#live.on');
      pages.push(page);
    }
    const open = { rss: rssMiB(child.pid), heap: await heapMiB(base) };
    const viewers = await viewerCount(base);
    const l0 = cpuMs(child.pid);
    const { perChange, last } = await churn(base, CHANGES, 'live');
    const liveCpu = (cpuMs(child.pid) - l0) / (2 * CHANGES);
    // Every viewer shows the last task, running, without a reload.
    const s1 = performance.now();
    await Promise.all(
      pages.map((p) =>
        p.waitForSelector(`#task-rows tr[data-id="${last}"] .badge.s-running`, { timeout: 30_000 }),
      ),
    );
    const fanoutMs = performance.now() - s1;
    const busy = { rss: rssMiB(child.pid), heap: await heapMiB(base) };
    for (const ctx of contexts) await ctx.close();
    await new Promise((r) => setTimeout(r, 500));
    const after = { rss: rssMiB(child.pid), heap: await heapMiB(base) };
    const viewersAfter = await viewerCount(base);
    printTable(
      `dashboard: serve memory with ${VIEWERS} dashboards following live`,
      ['moment', 'RSS MiB', 'heap used MiB'],
      [
        ['no dashboard open', fmt(idle.rss), fmt(idle.heap)],
        [
          `${VIEWERS} dashboards connected (server counts ${viewers})`,
          fmt(open.rss),
          fmt(open.heap),
        ],
        [
          `after ${CHANGES} creates + ${CHANGES} starts pushed to all`,
          fmt(busy.rss),
          fmt(busy.heap),
        ],
        [`dashboards closed (server counts ${viewersAfter})`, fmt(after.rss), fmt(after.heap)],
      ],
    );
    console.log(
      `one change over MCP: ${fmt(quiet.perChange)} ms with no dashboard open, ${fmt(perChange)} ms ` +
        `with ${VIEWERS} (their browsers share this machine's cores); all ${VIEWERS} showed the ` +
        `last change ${fmt(fanoutMs, 0)} ms after it was made`,
    );
    console.log(
      `serve CPU per change: ${fmt(quietCpu)} ms with no dashboard, ${fmt(liveCpu)} ms with ${VIEWERS} following`,
    );
  } finally {
    await browser?.close();
    if (serve?.child.exitCode === null) {
      serve.child.kill('SIGTERM');
      await new Promise((r) => serve.child.once('exit', r));
    }
    home.cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
