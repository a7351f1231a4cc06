// `npm run bench`: every benchmark side by side in one run. Each script runs in its own process.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './lib.mjs';

const scripts = [
  'registry.mjs',
  'locks.mjs',
  'persistence.mjs',
  'postgres.mjs',
  'docker.mjs',
  'warm.mjs',
  'mcp.mjs',
  'dashboard.mjs',
];
const only = process.argv.slice(2);
let failed = 0;
for (const s of scripts) {
  if (only.length && !only.some((o) => s.startsWith(o))) continue;
  const file = join(root, 'bench', s);
  if (!existsSync(file)) continue;
  console.log(`\n# ${s}`);
  const r = spawnSync(process.execPath, [file], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) {
    failed++;
    console.error(`bench ${s} exited ${r.status}`);
  }
}
process.exitCode = failed ? 1 : 0;
