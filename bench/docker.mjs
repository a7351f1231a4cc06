// Docker sandboxes: the SandboxRuntime port (dist/) vs raw dockerode making the same calls vs the
// docker CLI, plus 20 sandboxes created, exec'd and removed concurrently.
// Standalone: `npm run build && node bench/docker.mjs` (needs a running engine and the test image:
// `bash scripts/start-docker.sh`). Env: BENCH_DOCKER_N (create iterations, default 20),
// BENCH_DOCKER_EXEC_N (exec iterations, default 60), BENCH_DOCKER_CONCURRENT (default 20).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { dist, fmt, printTable, require, dockerOrSkip } from './lib.mjs';

const { createDockerSandboxRuntime } = dist('adapters/docker/index.js');
const { resolveSandboxConfig } = dist('modules/docker/sandbox-policy.js');
const { resolveOptions } = dist('config/options.js');
const { newId } = dist('domain/ids.js');
const { WRAPPER_ENV, wrapDir, wrappedCmd } = dist('adapters/docker/exec-wrapper.js');

const IMAGE = process.env.OPENCODE_SANDBOX_IMAGE ?? 'opencode-tools-test:busybox';
const N = Number(process.env.BENCH_DOCKER_N ?? 20);
const EXEC_N = Number(process.env.BENCH_DOCKER_EXEC_N ?? 60);
const CONCURRENT = Number(process.env.BENCH_DOCKER_CONCURRENT ?? 20);

const docker = await dockerOrSkip('docker', IMAGE);

const runtime = await createDockerSandboxRuntime(docker);
const options = resolveOptions({
  sandboxImage: IMAGE,
  instanceId: 'bench',
  database: { driver: 'memory' },
});
const config = (taskId) => ({ ...resolveSandboxConfig(taskId, {}, options), pull: 'never' });

const pct = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const time = async (fn) => {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
};

// --- the same work, three ways ------------------------------------------------------------
const port = {
  async up(id) {
    await runtime.create(config(id));
    await runtime.start(id);
  },
  exec: (id) =>
    runtime.exec(id, { command: ['echo', 'hi'], timeoutMs: 10_000, outputCapBytes: 1 << 20 }),
  down: (id) => runtime.remove(id),
};

// Raw dockerode: the same Docker API calls the adapter needs (image check, volume, create, start;
// exec create/start/demux/inspect), without the port's validation, labels lookups and mapping.
/** A plain dockerode exec (create, start, demux, inspect); returns its stdout. */
async function rawExec(id, Cmd, Env) {
  const exec = await docker
    .getContainer(`oct-${id}`)
    .exec({ Cmd, Env, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out = [];
  await new Promise((resolve) => {
    docker.modem.demuxStream(stream, { write: (c) => out.push(c) }, { write: () => {} });
    stream.on('end', resolve);
    stream.on('close', resolve);
  });
  await exec.inspect();
  return Buffer.concat(out).toString();
}

const raw = {
  async up(id) {
    const c = config(id);
    await docker.getImage(c.image).inspect();
    await docker.createVolume({
      Name: `oct-ws-${id}`,
      Labels: { 'opencode-tools.managed': 'true' },
    });
    const mem = c.memoryMb * 1048576;
    const ctr = await docker.createContainer({
      name: `oct-${id}`,
      Image: c.image,
      Entrypoint: ['sleep', '2147483647'],
      WorkingDir: '/workspace',
      Labels: { 'opencode-tools.managed': 'true', 'opencode-tools.task-id': id },
      NetworkDisabled: true,
      HostConfig: {
        Init: true,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges:true'],
        PidsLimit: c.pids,
        Memory: mem,
        MemorySwap: mem,
        NanoCpus: c.cpus * 1e9,
        NetworkMode: 'none',
        Mounts: [{ Type: 'volume', Source: `oct-ws-${id}`, Target: '/workspace' }],
        LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
      },
    });
    await ctr.start();
  },
  exec: (id) => rawExec(id, ['echo', 'hi']),
  down: (id) => runtime.remove(id),
};

const cliRun = (args) => {
  const r = spawnSync('docker', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const hasCli = spawnSync('docker', ['version'], { encoding: 'utf8' }).status === 0;
const cli = {
  async up(id) {
    const c = config(id);
    cliRun(['volume', 'create', '--label', 'opencode-tools.managed=true', `oct-ws-${id}`]);
    cliRun([
      'create',
      '--name',
      `oct-${id}`,
      '--label',
      'opencode-tools.managed=true',
      '--label',
      `opencode-tools.task-id=${id}`,
      '--init',
      '--cap-drop',
      'ALL',
      '--security-opt',
      'no-new-privileges',
      '--pids-limit',
      String(c.pids),
      '--memory',
      `${c.memoryMb}m`,
      '--memory-swap',
      `${c.memoryMb}m`,
      '--cpus',
      String(c.cpus),
      '--network',
      'none',
      '--log-opt',
      'max-size=10m',
      '--log-opt',
      'max-file=3',
      '-w',
      '/workspace',
      '--mount',
      `type=volume,src=oct-ws-${id},dst=/workspace`,
      '--entrypoint',
      'sleep',
      c.image,
      '2147483647',
    ]);
    cliRun(['start', `oct-${id}`]);
  },
  exec: async (id) => cliRun(['exec', `oct-${id}`, 'echo', 'hi']),
  down: (id) => runtime.remove(id),
};

const ways = { port, 'raw dockerode': raw, ...(hasCli ? { 'docker CLI': cli } : {}) };

// --- create -> running, interleaved so drift hits every way alike ----------------------------
const up = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
for (let i = 0; i < N + 2; i++) {
  for (const [name, w] of Object.entries(ways)) {
    const id = newId('tsk');
    const ms = await time(() => w.up(id));
    if (i >= 2) up[name].push(ms); // 2 warm-up rounds
    await w.down(id);
  }
}

// --- exec round trip in one running sandbox per way ------------------------------------------
// The port runs argv commands through the journaling wrapper (exec-wrapper.ts); the extra row
// makes raw dockerode's calls with the wrapper's Cmd, so the wrapper's own cost (a shell, mkdir,
// mkfifo and two tees in the sandbox) shows apart from the port's. Each removes the previous
// one's logs, as the port does.
let lastDir = '';
const wrapped = {
  exec: async (id) => {
    const nonce = newId('x')
      .slice(-26)
      .toLowerCase()
      .padEnd(32, '0')
      .replace(/[^0-9a-f]/g, '0');
    const dir = wrapDir(nonce);
    const cmd = wrappedCmd(['echo', 'hi'], { nonce, dir, clean: lastDir ? [lastDir] : [] }, 'm');
    lastDir = dir;
    return (await rawExec(id, cmd, [WRAPPER_ENV])).replace(/\x1eoct:[^\x1e]*\x1e/g, '');
  },
};
const ex = Object.fromEntries(
  [...Object.keys(ways), 'raw dockerode + wrapper'].map((k) => [k, []]),
);
const ids = {};
for (const [name, w] of Object.entries(ways)) {
  ids[name] = newId('tsk');
  await w.up(ids[name]);
}
const execWays = { ...ways, 'raw dockerode + wrapper': wrapped };
ids['raw dockerode + wrapper'] = ids['raw dockerode'];
for (let i = 0; i < EXEC_N + 5; i++) {
  for (const [name, w] of Object.entries(execWays)) {
    let out;
    const ms = await time(async () => {
      const r = await w.exec(ids[name]);
      out = typeof r === 'string' ? r : r.stdout;
    });
    if (out !== 'hi\n') throw new Error(`${name} exec returned ${JSON.stringify(out)}`);
    if (i >= 5) ex[name].push(ms);
  }
}
for (const [name, w] of Object.entries(ways)) await w.down(ids[name]);

const rows = [];
for (const [label, data] of [
  ['create→running', up],
  ['exec echo hi', ex],
]) {
  const base50 = pct(data['raw dockerode'], 0.5);
  const base95 = pct(data['raw dockerode'], 0.95);
  for (const name of Object.keys(data)) {
    const p50 = pct(data[name], 0.5);
    const p95 = pct(data[name], 0.95);
    rows.push([
      label,
      name,
      data[name].length,
      fmt(p50),
      fmt(p95),
      `${fmt(p50 / base50, 2)}×`,
      `${fmt(p95 / base95, 2)}×`,
    ]);
  }
}
printTable(
  `sandbox latency, ms (target: port ≤ 1.15× raw dockerode; ${IMAGE})`,
  ['OPERATION', 'VIA', 'N', 'P50', 'P95', 'P50 VS RAW', 'P95 VS RAW'],
  rows,
);

// --- why HostConfig.Init: stopping a container whose PID 1 is `sleep` --------------------------
const stopRows = [];
for (const init of [true, false]) {
  const ctr = await docker.createContainer({
    Image: IMAGE,
    Entrypoint: ['sleep', '2147483647'],
    Labels: { 'opencode-tools.managed': 'true', 'opencode-tools.task-id': 'bench-init' },
    HostConfig: { Init: init, NetworkMode: 'none' },
  });
  await ctr.start();
  const ms = await time(() => ctr.stop({ t: 10 }));
  await ctr.remove({ force: true });
  stopRows.push([init ? 'Init: true (ours)' : 'Init: false', `${fmt(ms / 1000, 2)} s`]);
}
printTable('docker stop of an idle sandbox (10 s grace)', ['HOSTCONFIG', 'STOP TIME'], stopRows);

// --- 20 sandboxes at once -----------------------------------------------------------------------
global.gc?.();
const rss0 = process.memoryUsage().rss;
let peak = rss0;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
const errors = [];
const t0 = performance.now();
await Promise.all(
  Array.from({ length: CONCURRENT }, async () => {
    const id = newId('tsk');
    try {
      await port.up(id);
      const r = await port.exec(id);
      if (r.stdout !== 'hi\n' || r.exitCode !== 0)
        throw new Error(`bad exec result ${JSON.stringify(r)}`);
    } catch (err) {
      errors.push(err.message);
    } finally {
      await port.down(id).catch((err) => errors.push(`remove: ${err.message}`));
    }
  }),
);
const wall = performance.now() - t0;
clearInterval(sampler);
const left = (await runtime.listResources()).filter((r) => r.instanceId === 'bench').length;
printTable(
  `${CONCURRENT} sandboxes created, exec'd and removed concurrently (through the port)`,
  ['WALL', 'ERRORS', 'LEFT BEHIND', 'RSS BEFORE', 'PEAK RSS'],
  [
    [
      `${fmt(wall / 1000, 2)} s`,
      errors.length,
      left,
      `${fmt(rss0 / 1048576)} MiB`,
      `${fmt(peak / 1048576)} MiB`,
    ],
  ],
);
if (errors.length) {
  console.error(errors.slice(0, 5).join('\n'));
  process.exitCode = 1;
}
