// Shared helpers for the benchmark scripts (plain Node ESM over the built dist/).
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const require = createRequire(join(root, 'package.json'));
export const dist = (p) => require(join(root, 'dist', p));

export function tempDir(prefix = 'oct-bench-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs tinybench tasks and returns {name: {hz, meanMs, p50Ms, p95Ms}}. */
export async function measure(name, tasks, opts = {}) {
  const bench = new Bench({ name, time: opts.time ?? 1000, warmupTime: opts.warmupTime ?? 200 });
  for (const [k, fn] of Object.entries(tasks)) bench.add(k, fn);
  await bench.run();
  const out = {};
  for (const t of bench.tasks) {
    const l = t.result.latency;
    out[t.name] = {
      hz: t.result.throughput.mean,
      meanMs: l.mean,
      p50Ms: l.p50,
      p95Ms: l.p99 === undefined ? l.max : percentile(l.samples, 0.95),
    };
  }
  return out;
}

function percentile(samples, q) {
  if (!samples || !samples.length) return NaN;
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export const fmt = (n, d = 1) =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d }) : String(n);

/** Prints rows as an aligned table on stdout. */
export function printTable(title, head, rows) {
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

/** The Docker engine with `image` present, or exit 0 with a line saying why the bench is skipped. */
export async function dockerOrSkip(bench, image) {
  const Docker = require('dockerode');
  const docker = new Docker();
  try {
    await docker.ping();
    await docker.getImage(image).inspect();
  } catch (err) {
    console.log(
      `${bench} bench skipped: engine or image ${image} unavailable (${err.code ?? err.message}); run scripts/start-docker.sh`,
    );
    process.exit(0);
  }
  return docker;
}
