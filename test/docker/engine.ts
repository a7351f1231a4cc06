import { spawnSync } from 'node:child_process';

/** The offline image scripts/start-docker.sh builds; override with OPENCODE_SANDBOX_IMAGE. */
export const TEST_IMAGE = process.env.OPENCODE_SANDBOX_IMAGE ?? 'opencode-tools-test:busybox';

/** An image reference that can never be pulled without leaving the machine (port 1 on loopback). */
export const UNPULLABLE_IMAGE = '127.0.0.1:1/opencode-tools/no-such-image:never';

/**
 * Images whose `/bin/sh` is each shell the exec sessions support, built offline by
 * scripts/start-docker.sh: busybox ash (the default test image), dash (Debian's and Ubuntu's
 * `/bin/sh`) and bash (`/bin/sh` on Fedora, RHEL and their kin) from the host's Debian binaries.
 */
export const SHELL_IMAGES: Record<string, string> = {
  'busybox ash': TEST_IMAGE,
  dash: process.env.OPENCODE_TEST_IMAGE_DASH ?? 'opencode-tools-test:dash',
  bash: process.env.OPENCODE_TEST_IMAGE_BASH ?? 'opencode-tools-test:bash',
};

/**
 * A shell script printing where each `tee` of the sandbox's sessions writes: a FIFO of the
 * session-FIFO mount (`/run/opencode-tools/<id>.o (deleted)`) or an engine pipe (`pipe:[…]`).
 */
export const TEE_OUTPUTS =
  'for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = tee ] && readlink $p/fd/1; done; true';

function probe(image: string): { ok: boolean; why: string } {
  const script = `
    const D = require('dockerode'); const d = new D();
    d.ping().then(() => d.getImage(${JSON.stringify(image)}).inspect())
      .then(() => process.exit(0))
      .catch((e) => { console.error(e.statusCode === 404 ? 'image ${image} missing' : (e.code || e.message)); process.exit(1); });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 15_000 });
  return { ok: r.status === 0, why: (r.stderr || r.error?.message || '').trim() };
}

const probed = new Map<string, { ok: boolean; why: string }>();

/**
 * `describe` for suites that need the real engine and the test image (or `image`). Without them
 * the suite is skipped with a loud warning locally, but fails under CI=true (CI must run it).
 */
export function describeDocker(name: string, fn: () => void, image = TEST_IMAGE): void {
  let p = probed.get(image);
  if (!p) probed.set(image, (p = probe(image)));
  if (p.ok) return describe(name, fn);
  const msg = `Docker engine or test image unavailable (${p.why || 'no answer'}); run 'bash scripts/start-docker.sh' (as root) first`;
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
