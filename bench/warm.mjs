// Millisecond sandboxes (issue 9), side by side in one run:
// 1. create_task_sandbox over the in-memory MCP transport with a warm pool, vs the same call
//    without one, vs raw dockerode create + start (volume, container, start).
// 2. execute_in_task `echo hi` over the in-memory MCP transport (a persistent session talking to
//    its shell over FIFOs, OPENCODE_SESSION_IO=fifo, the default), vs the same through a second
//    server whose sessions use their `docker exec`'s attach stream (OPENCODE_SESSION_IO=attach),
//    vs a raw `docker exec` (dockerode create/start/demux/inspect), vs a bare round trip on an
//    attached, long-lived shell (write a line, read until a marker: the floor under a session
//    over the attach stream), and the same over bind-mounted FIFOs (the floor under one over
//    FIFOs); and
//    execute_in_task `cd` (alternately /tmp and /), which changes the session state every time
//    and so pays the write that persists it (SQLite); these six in blocks of BENCH_WARM_BLOCK
//    calls taking turns (steady state, same phase of the machine), then the session and bare
//    calls taking turns call by call (each call after calls to other processes, as after a
//    pause). Then execute_in_task `echo hi` alone, in
//    loops of their own: in the busybox sandbox and in sandboxes whose /bin/sh is dash or bash
//    (when scripts/start-docker.sh built those images), each with the machine's CPU time per call.
// Standalone: `npm run build && node bench/warm.mjs` (needs the engine and the test image:
// `bash scripts/start-docker.sh`). Env: BENCH_WARM_CREATE_N (default 20), BENCH_WARM_EXEC_N
// (default 300), BENCH_WARM_WARMUP (default 4000: untimed session calls before the exec loops, so
// they measure a server past its JIT warm-up, as a long-running `mcp` is; the first 1,000 of them
// are reported as a fresh server's), BENCH_WARM_BLOCK (default 50). Targets (issue 9): warm create p50 < 20 ms; session exec
// p50 < 2 ms.
import { performance } from 'node:perf_hooks';
import { execFileSync } from 'node:child_process';
import { constants as fsConstants, mkdirSync, openSync, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { dist, fmt, printTable, require, tempDir, dockerOrSkip } from './lib.mjs';

require('reflect-metadata');
const { NestFactory } = require('@nestjs/core');
const { Module } = require('@nestjs/common');
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { InMemoryTransport } = require('@modelcontextprotocol/sdk/inMemory.js');
const { OpenCodeToolsModule } = dist('opencode-tools.module.js');
const { McpModule } = dist('modules/mcp/mcp.module.js');
const { McpToolRegistry } = dist('modules/mcp/mcp-tool.registry.js');
const { WarmPoolService } = dist('modules/docker/warm-pool.service.js');
const { newId } = dist('domain/ids.js');

const IMAGE = process.env.OPENCODE_SANDBOX_IMAGE ?? 'opencode-tools-test:busybox';
const CREATE_N = Number(process.env.BENCH_WARM_CREATE_N ?? 20);
const EXEC_N = Number(process.env.BENCH_WARM_EXEC_N ?? 300);
const WARMUP = Number(process.env.BENCH_WARM_WARMUP ?? 4000);
const BLOCK = Math.max(1, Number(process.env.BENCH_WARM_BLOCK ?? 50));

const docker = await dockerOrSkip('warm', IMAGE);

const pct = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/** An app context with the MCP server over the in-memory transport, and a tool caller. */
async function openServer(dir, sandbox) {
  class BenchRoot {}
  Module({})(BenchRoot);
  const app = await NestFactory.createApplicationContext(
    {
      module: BenchRoot,
      imports: [
        OpenCodeToolsModule.forRoot({
          home: dir,
          database: { driver: 'sqlite', path: join(dir, 'db.sqlite') },
          sandboxImage: IMAGE,
          instanceId: 'bench-warm',
          sandbox: { pull: 'never', orphanGraceMs: 0, stopGraceMs: 1000, ...sandbox },
        }),
        McpModule,
      ],
    },
    { logger: false },
  );
  const server = await app.get(McpToolRegistry).createServer();
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'bench', version: '0' });
  await client.connect(clientSide);
  const call = async (name, args) => {
    const r = await client.callTool({ name, arguments: args });
    if (r.isError) throw new Error(`${name}: ${r.content?.[0]?.text}`);
    return r.structuredContent;
  };
  return { app, client, call };
}

const home = tempDir('oct-bench-warm-');
const { app, client, call } = await openServer(home.dir, {
  warmPool: { size: CREATE_N, max: CREATE_N, ttlMs: 10 * 60_000 },
});
const pool = app.get(WarmPoolService);
// The same server with sessions over the attach stream of their `docker exec`
// (OPENCODE_SESSION_IO=attach: what any engine FIFOs cannot reach gets).
const home2 = tempDir('oct-bench-warm-attach-');
const attachSrv = await openServer(home2.dir, { sessionIo: 'attach' });
const created = [];
const spec = { name: 'bench', image: IMAGE };

// --- 1. create ---------------------------------------------------------------------------------
const warm = [];
await pool.fill(); // untimed: the pool is filled ahead, as serve does in the background
for (let i = 0; i < CREATE_N; i++) {
  const t0 = performance.now();
  const r = await call('create_task_sandbox', spec);
  warm.push(performance.now() - t0);
  created.push(r.taskId);
}
await pool.resize(0);
const cold = [];
for (let i = 0; i < Math.min(CREATE_N, 10); i++) {
  const t0 = performance.now();
  const r = await call('create_task_sandbox', spec);
  cold.push(performance.now() - t0);
  created.push(r.taskId);
}
const raw = [];
const rawIds = [];
for (let i = 0; i < Math.min(CREATE_N, 10); i++) {
  const id = `bench-warm-${newId('x').slice(2).toLowerCase()}`;
  rawIds.push(id);
  const t0 = performance.now();
  await docker.createVolume({ Name: `${id}-ws`, Labels: { 'opencode-tools.bench': 'warm' } });
  const ctr = await docker.createContainer({
    name: id,
    Image: IMAGE,
    Entrypoint: ['sleep', '2147483647'],
    WorkingDir: '/workspace',
    Labels: { 'opencode-tools.bench': 'warm' },
    NetworkDisabled: true,
    HostConfig: {
      Init: true,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges:true'],
      PidsLimit: 256,
      Memory: 512 * 1048576,
      MemorySwap: 512 * 1048576,
      NanoCpus: 1e9,
      NetworkMode: 'none',
      Mounts: [{ Type: 'volume', Source: `${id}-ws`, Target: '/workspace' }],
    },
  });
  await ctr.start();
  raw.push(performance.now() - t0);
}

// --- 2. exec -----------------------------------------------------------------------------------
const taskId = created[0];
/**
 * A bare shell round trip: writes `echo hi` and a marker to the shell's stdin, reads its stdout
 * (`onStdout` subscribes) until the marker.
 */
function bareShell(what, write, onStdout) {
  let buf = '';
  let waiter;
  onStdout((c) => {
    buf += c.toString();
    if (waiter && buf.includes('\x1e')) waiter();
  });
  return async () => {
    buf = '';
    const done = new Promise((r) => (waiter = r));
    write("echo hi; printf '\\036\\n'\n");
    await done;
    if (!buf.startsWith('hi\n')) throw new Error(`${what} returned ${JSON.stringify(buf)}`);
  };
}
const bare = await (async () => {
  const ctr = docker.getContainer(rawIds[0]);
  const exec = await ctr.exec({
    Cmd: ['/bin/sh'],
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await exec.start({ hijack: true, stdin: true });
  const run = bareShell(
    'bare shell',
    (s) => stream.write(s),
    (fn) => docker.modem.demuxStream(stream, { write: fn }, { write: () => {} }),
  );
  return { run, close: () => stream.destroy() };
})();
// The same bare round trip over FIFOs of a directory bind-mounted into a container (how
// sessions talk to their shell by default): no engine process between this one and the shell.
const bareFifo = await (async () => {
  const dir = join(home.dir, 'bare-io');
  mkdirSync(dir);
  execFileSync('mkfifo', ['-m', '666', join(dir, 'i'), join(dir, 'o')]);
  const id = `${rawIds[0]}-fifo`;
  rawIds.push(id);
  const ctr = await docker.createContainer({
    name: id,
    Image: IMAGE,
    Entrypoint: ['sleep', '2147483647'],
    Labels: { 'opencode-tools.bench': 'warm' },
    NetworkDisabled: true,
    HostConfig: {
      Init: true,
      CapDrop: ['ALL'],
      NetworkMode: 'none',
      Mounts: [{ Type: 'bind', Source: dir, Target: '/io', ReadOnly: true }],
    },
  });
  await ctr.start();
  const { O_RDONLY, O_RDWR, O_NONBLOCK } = fsConstants;
  const w = new Socket({ fd: openSync(join(dir, 'i'), O_RDWR | O_NONBLOCK), readable: false });
  const r = new Socket({ fd: openSync(join(dir, 'o'), O_RDONLY | O_NONBLOCK), writable: false });
  const exec = await ctr.exec({ Cmd: ['/bin/sh', '-c', 'exec </io/i >/io/o; exec /bin/sh'] });
  // (The answer to a detached start is a stream that stays open: release its socket.)
  (await exec.start({ Detach: true }))?.destroy?.();
  const run = bareShell(
    'bare FIFO shell',
    (s) => w.write(s),
    (fn) => r.on('data', fn),
  );
  return {
    run,
    close: () => {
      w.destroy();
      r.destroy();
    },
  };
})();
const ways = {
  'execute_in_task (session, MCP in-memory)': async () => {
    const r = await call('execute_in_task', { taskId, agentId: 'bench', command: 'echo hi' });
    if (r.stdout !== 'hi\n') throw new Error(`session returned ${JSON.stringify(r.stdout)}`);
  },
  'raw docker exec (dockerode)': async () => {
    const exec = await docker
      .getContainer(rawIds[0])
      .exec({ Cmd: ['echo', 'hi'], AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    await new Promise((resolve) => {
      docker.modem.demuxStream(stream, { write: () => {} }, { write: () => {} });
      stream.on('end', resolve);
      stream.on('close', resolve);
    });
    await exec.inspect();
  },
  'execute_in_task (session over the attach stream, MCP in-memory)': async () => {
    const r = await attachSrv.call('execute_in_task', {
      taskId: attachTask,
      agentId: 'bench',
      command: 'echo hi',
    });
    if (r.stdout !== 'hi\n') throw new Error(`session returned ${JSON.stringify(r.stdout)}`);
  },
  'bare attached-shell round trip': () => bare.run(),
  'bare FIFO round trip (bind-mounted FIFOs)': () => bareFifo.run(),
  // Changes the task's session state on every call: pays the one write that persists it.
  'execute_in_task (session, MCP in-memory) cd': async () => {
    const dir = cds++ % 2 ? '/tmp' : '/';
    const r = await call('execute_in_task', { taskId, agentId: 'bench', command: `cd ${dir}` });
    if (r.exitCode !== 0) throw new Error(`cd returned ${JSON.stringify(r)}`);
  },
};
let cds = 0;
await call('attach_agent_to_task', { taskId, agentId: 'bench' });
await call('resume_task', { taskId, agentId: 'bench' });
const { taskId: attachTask } = await attachSrv.call('create_task_sandbox', spec);
await attachSrv.call('attach_agent_to_task', { taskId: attachTask, agentId: 'bench' });
await attachSrv.call('resume_task', { taskId: attachTask, agentId: 'bench' });
/** How the task's session talks to its shell: where its output tees write. */
const transport = async (c, id) => {
  const r = await c('execute_in_task', {
    taskId: id,
    agentId: 'bench',
    command:
      'for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = tee ] && readlink $p/fd/1; done; true',
  });
  return /opencode-tools/.test(r.stdout)
    ? 'FIFOs'
    : /pipe:/.test(r.stdout)
      ? 'the attach stream'
      : `? (${r.stdout.trim()})`;
};
const transports = [await transport(call, taskId), await transport(attachSrv.call, attachTask)];
// The same call where /bin/sh is dash or bash (images of scripts/start-docker.sh, when present),
// each in a loop of its own after the main one: a child's start is CPU another sandbox's calls
// would otherwise compete with (a bash child costs ~4 ms of it).
const SHELLS = { dash: 'opencode-tools-test:dash', bash: 'opencode-tools-test:bash' };
const shellTasks = {};
for (const [shell, image] of Object.entries(SHELLS)) {
  const present = await docker
    .getImage(image)
    .inspect()
    .then(
      () => true,
      () => false,
    );
  if (!present) continue;
  const { taskId: id } = await call('create_task_sandbox', { name: `bench-${shell}`, image });
  created.push(id);
  await call('attach_agent_to_task', { taskId: id, agentId: 'bench' });
  await call('resume_task', { taskId: id, agentId: 'bench' });
  shellTasks[shell] = id;
}
// A fresh process runs its first few thousand calls slower: V8 is still compiling the hot code
// (here ~2.4 ms of Node CPU per call in the first 1,000 calls, ~1.1 ms after 5,000). The loops
// below measure a warmed server; the first 1,000 calls are shown as a fresh server's.
const fresh = [];
const nodeCpu = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};
let n0 = nodeCpu();
const nodeCpuPerCall = {};
for (let i = 0; i < WARMUP; i++) {
  const t0 = performance.now();
  const r = await call('execute_in_task', { taskId, agentId: 'bench', command: 'echo hi' });
  if (i < 1000) fresh.push(performance.now() - t0);
  if (i === Math.min(1000, WARMUP) - 1) nodeCpuPerCall.fresh = (nodeCpu() - n0) / (i + 1);
  if (r.stdout !== 'hi\n') throw new Error(`session returned ${JSON.stringify(r.stdout)}`);
}
for (let i = 0; i < Math.min(WARMUP, 1000); i++) {
  await ways['execute_in_task (session over the attach stream, MCP in-memory)']();
}
const ex = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
// In blocks of BLOCK calls of one way, the ways taking turns: each way is measured in its steady
// state (a call after a call of its own kind, as an agent's calls to one session follow each
// other), and all of them within the same second or so, so that they share the machine's phase.
// The first 20 calls of each way are not counted.
for (let b = 0; b * BLOCK < EXEC_N + 20; b++) {
  for (const [name, fn] of Object.entries(ways)) {
    for (let i = b * BLOCK; i < Math.min((b + 1) * BLOCK, EXEC_N + 20); i++) {
      // raw docker exec is ~100× slower: a tenth of the samples is plenty
      if (name.startsWith('raw') && i % 10) continue;
      const t0 = performance.now();
      await fn();
      if (i >= 20) ex[name].push(performance.now() - t0);
    }
  }
}
// The same session and bare calls taking turns call by call instead: each call then follows
// calls to other processes (the other container's shell, the engine's other streams), whose
// threads have gone to sleep meanwhile; on this VM a woken thread costs, and this is what a call
// pays after a pause (an agent's think time is seconds).
const ALT = ['execute_in_task (session, MCP in-memory)', 'bare attached-shell round trip'];
const alt = Object.fromEntries(ALT.map((k) => [k, []]));
for (let i = 0; i < EXEC_N + 20; i++) {
  for (const name of ALT) {
    const t0 = performance.now();
    await ways[name]();
    if (i >= 20) alt[name].push(performance.now() - t0);
  }
}
// Each shell alone (busybox ash: the main task), with the machine's CPU time per call (all
// processes, /proc/stat): calls that follow each other cannot take less than that over the
// number of cores on average, however the work is spread.
const busy = () => {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
    return (f[0] + f[1] + f[2] + f[5] + f[6]) * (1000 / 100); // ms, at USER_HZ 100
  } catch {
    return NaN;
  }
};
const cpuPerCall = {};
for (const [shell, id] of Object.entries({ 'busybox ash': taskId, ...shellTasks })) {
  const xs = (ex[`execute_in_task (session, MCP in-memory) on ${shell}`] = []);
  let b0 = 0;
  for (let i = 0; i < EXEC_N + 20; i++) {
    if (i === 20) {
      b0 = busy();
      n0 = nodeCpu();
    }
    const t0 = performance.now();
    const r = await call('execute_in_task', { taskId: id, agentId: 'bench', command: 'echo hi' });
    if (i >= 20) xs.push(performance.now() - t0);
    if (r.stdout !== 'hi\n')
      throw new Error(`${shell} session returned ${JSON.stringify(r.stdout)}`);
  }
  cpuPerCall[shell] = (busy() - b0) / EXEC_N;
  nodeCpuPerCall[shell] = (nodeCpu() - n0) / EXEC_N;
}
bare.close();
bareFifo.close();

const row = (op, via, xs, target) => [
  op,
  via,
  xs.length,
  fmt(pct(xs, 0.5), 2),
  fmt(pct(xs, 0.95), 2),
  target ?? '',
];
printTable(
  `millisecond sandboxes, ms (${IMAGE}; ${cpus().length} cores, load ${loadavg()[0].toFixed(1)})`,
  ['OPERATION', 'VIA', 'N', 'P50', 'P95', 'TARGET'],
  [
    row('create_task_sandbox', 'warm pool (MCP in-memory)', warm, 'p50 < 20'),
    row('create_task_sandbox', 'no pool (MCP in-memory)', cold),
    row('create + start', 'raw dockerode', raw),
    ...(fresh.length
      ? [
          row(
            'exec echo hi',
            `execute_in_task, a fresh server's first ${fresh.length} calls`,
            fresh,
          ),
        ]
      : []),
    ...Object.entries(ex).map(([name, xs], i) =>
      name.endsWith(' cd')
        ? row('exec cd /tmp | /', name.slice(0, -3), xs)
        : name.includes(' on ')
          ? row('exec echo hi', name.replace(' on ', ` (/bin/sh: `) + ')', xs)
          : row('exec echo hi', name, xs, i === 0 ? 'p50 < 2' : undefined),
    ),
    ...Object.entries(alt).map(([name, xs]) =>
      row('exec echo hi', `${name}, call by call with the other`, xs),
    ),
  ],
);
// This machine's speed drifts (a shared VM): the bare round trip is the yardstick of the moment.
const sessionP50 = pct(ex['execute_in_task (session, MCP in-memory)'], 0.5);
const bareP50 = pct(ex['bare attached-shell round trip'], 0.5);
console.log(
  `session exec p50 = ${fmt(sessionP50 / bareP50, 1)}× the bare round trip (${fmt(bareP50, 2)} ms now, in blocks of ${BLOCK}); call by call: ${fmt(pct(alt[ALT[0]], 0.5), 2)} ms against ${fmt(pct(alt[ALT[1]], 0.5), 2)} ms`,
);
console.log(
  `session transport: ${transports[0]} (main rows); ${transports[1]} (the attach-stream row); bare over FIFOs: ${fmt(pct(ex['bare FIFO round trip (bind-mounted FIFOs)'], 0.5), 3)} ms p50`,
);
if (nodeCpuPerCall.fresh !== undefined) {
  console.log(
    `a fresh server's first ${fresh.length} calls: ${fmt(nodeCpuPerCall.fresh, 2)} ms of Node CPU per call (JIT warm-up)`,
  );
}
for (const [shell, ms] of Object.entries(cpuPerCall)) {
  if (Number.isFinite(ms)) {
    console.log(
      `session exec on ${shell}: ${fmt(ms, 2)} ms of the machine's CPU per call, ${fmt(nodeCpuPerCall[shell], 2)} ms of it this Node process (back to back on ${cpus().length} cores, calls average ≥ ${fmt(ms / cpus().length, 2)} ms)`,
    );
  }
}

// --- clean up ----------------------------------------------------------------------------------
for (const id of created) {
  await call('delete_task', { taskId: id, force: true }).catch((err) =>
    console.error(`bench cleanup: ${err.message}`),
  );
}
await client.close();
for (const id of rawIds) {
  await docker
    .getContainer(id)
    .remove({ force: true })
    .catch(() => {});
  await docker
    .getVolume(`${id}-ws`)
    .remove()
    .catch(() => {});
}
await attachSrv
  .call('delete_task', { taskId: attachTask, force: true })
  .catch((err) => console.error(`bench cleanup: ${err.message}`));
await attachSrv.client.close();
await attachSrv.app.close();
home2.cleanup();
await pool.resize(0);
await app.close();
home.cleanup();
