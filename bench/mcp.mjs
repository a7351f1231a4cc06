// MCP benchmark (issue 6): round trip of get_task_status over stdio and Streamable HTTP, p50/p95,
// next to a trivial echo tool served by the same server on the same SDK transport (so the
// difference is the tool's own work: a SQLite read and the task view); then the cold start of the
// real binary (`opencode-tools mcp`) to its first tools/list answer.
//
// Standalone: `npm run build && node bench/mcp.mjs` (BENCH_MCP_CALLS, BENCH_MCP_COLD to resize).
// The servers run in child processes (this file with --serve stdio|http) built from dist/ exactly
// as the CLI builds them, plus the echo tool; the client is the SDK's own.
import { spawn } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const dist = (p) => require(join(root, 'dist', p));
const BIN = join(root, 'dist', 'main.js');
const SELF = fileURLToPath(import.meta.url);
// The SDK's HTTP client passes one AbortSignal to every fetch, and undici drops each request's
// listener on it only at garbage collection: thousands of calls in a tight loop trip Node's
// listener-leak warning in this (client) process. Not a server leak; silence it here.
setMaxListeners(0);
const CALLS = Number(process.env.BENCH_MCP_CALLS ?? 1000);
const WARMUP = Math.min(200, Math.ceil(CALLS / 5));
const COLD = Number(process.env.BENCH_MCP_COLD ?? 5);

const { z } = require('zod');

/** The baseline: no I/O, same wrapper, same result shape (structured + text). */
const echoTool = {
  name: 'echo',
  title: 'Echo',
  description: 'Returns its input (benchmark baseline).',
  input: { text: z.string() },
  output: { text: z.string() },
  annotations: { readOnlyHint: true },
  handler: async (a) => ({ structured: { text: a.text }, text: a.text }),
};

async function serve(kind) {
  require('reflect-metadata');
  const { NestFactory } = require('@nestjs/core');
  const { Module } = require('@nestjs/common');
  const { OpenCodeToolsModule } = dist('opencode-tools.module.js');
  const { McpModule } = dist('modules/mcp/mcp.module.js');
  const { McpToolRegistry } = dist('modules/mcp/mcp-tool.registry.js');
  const { loadConfigFromEnv } = dist('config/env.js');
  const { StderrLogger } = dist('config/stderr-logger.js');
  class BenchRoot {}
  Module({})(BenchRoot);
  const app = await NestFactory.createApplicationContext(
    {
      module: BenchRoot,
      imports: [OpenCodeToolsModule.forRoot(loadConfigFromEnv(process.env)), McpModule],
    },
    { logger: new StderrLogger('bench', { logLevels: ['error', 'warn'] }) },
  );
  const registry = app.get(McpToolRegistry);
  if (kind === 'stdio') {
    const { serveStdio } = dist('modules/mcp/transports/stdio.transport.js');
    const h = await serveStdio(registry, process.stdin, process.stdout, [echoTool]);
    await h.closed;
  } else {
    const { startMcpHttpServer } = dist('modules/mcp/transports/http.transport.js');
    const http = await startMcpHttpServer(registry, {
      host: '127.0.0.1',
      port: 0,
      extraTools: [echoTool],
      log: () => {},
    });
    process.stdout.write(`PORT ${http.port}\n`);
    await new Promise((r) => process.once('SIGTERM', r));
    await http.close(1000);
  }
  await app.close();
  process.exit(0);
}

const pct = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const fmt = (n) => n.toFixed(2);

function printTable(title, head, rows) {
  const cells = [head, ...rows].map((r) => r.map(String));
  const w = head.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  console.log(`\n## ${title}`);
  for (const [j, r] of cells.entries()) {
    console.log(
      r
        .map((c, i) => c.padEnd(w[i]))
        .join('  ')
        .trimEnd(),
    );
    if (j === 0) console.log(w.map((n) => '-'.repeat(n)).join('  '));
  }
}

/** Alternates echo and get_task_status so that drift (GC, a busy neighbour) hits both alike. */
async function roundTrips(client) {
  const created = await client.callTool({
    name: 'create_task_sandbox',
    arguments: { name: 'bench task', metadata: { repo: 'api', n: 1 } },
  });
  const taskId = created.structuredContent.taskId;
  const calls = {
    echo: () => client.callTool({ name: 'echo', arguments: { text: 'ping' } }),
    get_task_status: () => client.callTool({ name: 'get_task_status', arguments: { taskId } }),
  };
  const samples = { echo: [], get_task_status: [] };
  for (let i = 0; i < WARMUP + CALLS; i++) {
    for (const [name, fn] of Object.entries(calls)) {
      const t0 = performance.now();
      const r = await fn();
      const ms = performance.now() - t0;
      if (r.isError) throw new Error(`${name} failed: ${JSON.stringify(r.content)}`);
      if (i >= WARMUP) samples[name].push(ms);
    }
  }
  const out = {};
  for (const [name, xs] of Object.entries(samples)) {
    xs.sort((a, b) => a - b);
    out[name] = { p50: pct(xs, 0.5), p95: pct(xs, 0.95) };
  }
  return out;
}

/** Spawns `opencode-tools mcp`, initializes, asks tools/list; resolves with the time to its answer. */
function coldStart(env) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [BIN, 'mcp'], { env, stdio: ['pipe', 'pipe', 'ignore'] });
    const send = (m) => child.stdin.write(`${JSON.stringify(m)}\n`);
    let buf = '';
    child.stdout.on('data', (c) => {
      buf += c;
      for (let i; (i = buf.indexOf('\n')) >= 0;) {
        const msg = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (msg.id === 1) {
          send({ jsonrpc: '2.0', method: 'notifications/initialized' });
          send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
        } else if (msg.id === 2) {
          const ms = performance.now() - t0;
          child.stdin.end();
          child.once('exit', () => resolve({ ms, tools: msg.result.tools.length }));
        }
      }
    });
    child.once('error', reject);
    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 'bench', version: '0' },
      },
    });
  });
}

async function main() {
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
  const { StreamableHTTPClientTransport } =
    await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
  const home = mkdtempSync(join(tmpdir(), 'oct-bench-mcp-'));
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    OPENCODE_HOME: home,
    // Sandboxes in-process: the round trips measured here never touch a sandbox, and no image pull.
    OPENCODE_SANDBOX_RUNTIME: 'memory',
  };
  const newClient = () => new Client({ name: 'bench', version: '0' });
  try {
    // Cold start of the real binary: spawn -> initialize -> first tools/list answer, timed on raw
    // JSON-RPC frames so that the client's own work (the SDK client compiles every output schema
    // it receives) is not counted as the server's.
    const cold = [];
    let toolCount = 0;
    for (let i = 0; i < COLD; i++) {
      const r = await coldStart(env);
      cold.push(r.ms);
      toolCount = r.tools;
    }
    cold.sort((a, b) => a - b);

    const stdioClient = newClient();
    await stdioClient.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [SELF, '--serve', 'stdio'],
        env,
        stderr: 'inherit',
      }),
    );
    const stdio = await roundTrips(stdioClient);
    await stdioClient.close();

    const child = spawn(process.execPath, [SELF, '--serve', 'http'], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const port = await new Promise((resolve, reject) => {
      let text = '';
      child.stdout.on('data', (c) => {
        text += c;
        const m = /PORT (\d+)/.exec(text);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`http server exited ${code}`)));
    });
    const httpClient = newClient();
    await httpClient.connect(
      new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)),
    );
    const http = await roundTrips(httpClient);
    await httpClient.close();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));

    const rows = [];
    for (const [transport, res] of [
      ['stdio', stdio],
      ['http', http],
    ]) {
      const ratio = res.get_task_status.p50 / res.echo.p50;
      rows.push([transport, 'echo (baseline)', fmt(res.echo.p50), fmt(res.echo.p95), '1.00x', '']);
      rows.push([
        transport,
        'get_task_status',
        fmt(res.get_task_status.p50),
        fmt(res.get_task_status.p95),
        `${ratio.toFixed(2)}x`,
        ratio <= 1.5 ? 'ok (<= 1.5x)' : 'MISSED (> 1.5x)',
      ]);
    }
    printTable(
      `MCP tool round trip, ${CALLS} calls each after ${WARMUP} warm-up, SQLite store, SDK client`,
      ['transport', 'tool', 'p50 ms', 'p95 ms', 'p50 vs echo', 'target'],
      rows,
    );
    const med = cold[Math.floor(cold.length / 2)];
    const load = loadavg()[0].toFixed(1);
    printTable(
      `stdio cold start: spawn \`opencode-tools mcp\` -> initialize -> tools/list answer (${toolCount} tools), ${COLD} runs, load average ${load} on ${cpus().length} CPUs`,
      ['median ms', 'min ms', 'max ms', 'target'],
      [
        [
          med.toFixed(0),
          cold[0].toFixed(0),
          cold[cold.length - 1].toFixed(0),
          med < 1000 ? 'ok (< 1 s)' : 'MISSED (>= 1 s)',
        ],
      ],
    );
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

const i = process.argv.indexOf('--serve');
if (i >= 0) await serve(process.argv[i + 1]);
else await main();
