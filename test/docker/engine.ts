import { spawnSync } from 'node:child_process';

/** The offline image scripts/start-docker.sh builds; override with OPENCODE_SANDBOX_IMAGE. */
export const TEST_IMAGE = process.env.OPENCODE_SANDBOX_IMAGE ?? 'opencode-tools-test:busybox';

/** An image reference that can never be pulled without leaving the machine (port 1 on loopback). */
export const UNPULLABLE_IMAGE = '127.0.0.1:1/opencode-tools/no-such-image:never';

function probe(): { ok: boolean; why: string } {
  const script = `
    const D = require('dockerode'); const d = new D();
    d.ping().then(() => d.getImage(${JSON.stringify(TEST_IMAGE)}).inspect())
      .then(() => process.exit(0))
      .catch((e) => { console.error(e.statusCode === 404 ? 'image ${TEST_IMAGE} missing' : (e.code || e.message)); process.exit(1); });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 15_000 });
  return { ok: r.status === 0, why: (r.stderr || r.error?.message || '').trim() };
}

let cached: { ok: boolean; why: string } | undefined;

/**
 * `describe` for suites that need the real engine and the test image. Without them the suite is
 * skipped with a loud warning locally, but fails under CI=true (CI must run it).
 */
export function describeDocker(name: string, fn: () => void): void {
  cached ??= probe();
  if (cached.ok) return describe(name, fn);
  const msg = `Docker engine or test image unavailable (${cached.why || 'no answer'}); run 'bash scripts/start-docker.sh' (as root) first`;
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs a Docker engine under CI=true', () => {
        throw new Error(msg);
      });
    });
    return;
  }
  console.warn(`\n!!! SKIPPING "${name}": ${msg}\n`);
  describe.skip(name, fn);
}
