import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TEST_IMAGE } from './engine';

/**
 * A second Docker engine on this machine, standing in for another host's engine: its own data
 * root, exec root (and so its own containerd), socket, and engine id. Docker 20.10 derives the
 * engine id from /etc/docker/key.json, so the daemon runs in a private mount namespace with its
 * own /etc/docker bind-mounted over the real one. No bridge and no iptables rules: sandboxes use
 * network `none`. Needs root and util-linux `unshare`. The test image is copied in with
 * `docker save | docker load`; nothing is pulled.
 */
export interface SecondEngine {
  /** `unix://…` for DOCKER_HOST. */
  host: string;
  stop(): void;
}

function docker(args: string[], host?: string, input?: Buffer) {
  return spawnSync('docker', host ? ['-H', host, ...args] : args, {
    input,
    maxBuffer: 256 * 1024 * 1024,
    timeout: 60_000,
  });
}

export async function startSecondEngine(): Promise<SecondEngine> {
  if (process.getuid?.() !== 0) throw new Error('a second Docker engine needs root');
  const dir = mkdtempSync('/tmp/oct-eng2-');
  for (const d of ['etc', 'data', 'exec']) mkdirSync(join(dir, d));
  mkdirSync('/etc/docker', { recursive: true });
  const host = `unix://${dir}/docker.sock`;
  const script = [
    'set -e',
    `mount --bind "${dir}/etc" /etc/docker`,
    `exec dockerd -H ${host} --data-root "${dir}/data" --exec-root "${dir}/exec"` +
      ` --pidfile "${dir}/docker.pid" --bridge=none --iptables=false --ip6tables=false`,
  ].join('\n');
  writeFileSync(join(dir, 'start.sh'), script);
  const log = openSync(join(dir, 'dockerd.log'), 'a');
  const child = spawn(
    'unshare',
    ['--mount', '--propagation', 'private', 'sh', join(dir, 'start.sh')],
    {
      stdio: ['ignore', log, log],
      detached: true,
    },
  );
  child.unref();
  const stop = () => {
    try {
      const ids = docker(['ps', '-aq'], host).stdout?.toString().split(/\s+/).filter(Boolean);
      if (ids?.length) docker(['rm', '-f', '-v', ...ids], host);
      docker(['volume', 'prune', '-f'], host);
    } catch {
      /* best effort */
    }
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      /* gone */
    }
    const until = Date.now() + 15_000;
    while (Date.now() < until && docker(['info'], host).status === 0) {
      spawnSync('sleep', ['0.2']);
    }
    spawnSync('umount', ['-l', join(dir, 'exec')]);
    rmSync(dir, { recursive: true, force: true });
  };
  const until = Date.now() + 60_000;
  while (docker(['info'], host).status !== 0) {
    if (Date.now() > until || child.exitCode !== null) {
      const why = readFileSync(join(dir, 'dockerd.log'), 'utf8').slice(-2000);
      stop();
      throw new Error(`the second Docker engine did not start:\n${why}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const image = docker(['save', TEST_IMAGE]);
  const loaded = docker(['load'], host, image.stdout);
  if (image.status !== 0 || loaded.status !== 0) {
    stop();
    throw new Error(`could not copy ${TEST_IMAGE} into the second engine: ${loaded.stderr}`);
  }
  return { host, stop };
}
