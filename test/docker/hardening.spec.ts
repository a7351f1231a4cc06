import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Docker from 'dockerode';
import { createDockerSandboxRuntime } from '../../src/adapters/docker';
import { newId } from '../../src/domain/ids';
import type { SandboxConfig, SandboxRuntime } from '../../src/ports/sandbox-runtime.port';
import { sandboxConfig } from '../contract/sandbox-runtime.contract';
import { tempHome } from '../helpers/temp-home';
import { describeDocker, TEST_IMAGE } from './engine';

jest.setTimeout(120_000);

describeDocker('docker sandboxes are hardened and contained (real engine)', () => {
  const docker = new Docker();
  let rt: SandboxRuntime;
  const created: string[] = [];
  const up = async (over: Partial<SandboxConfig> = {}) => {
    const taskId = newId('tsk');
    created.push(taskId);
    await rt.create(sandboxConfig(taskId, TEST_IMAGE, over));
    await rt.start(taskId);
    return taskId;
  };
  const sh = (taskId: string, script: string, timeoutMs = 20_000, outputCapBytes = 1 << 20) =>
    rt.exec(taskId, { command: { shell: script }, timeoutMs, outputCapBytes });

  // As a server runs them: sessions over FIFOs (OPENCODE_SESSION_IO=fifo, the default).
  let home: ReturnType<typeof tempHome>;
  beforeAll(async () => {
    home = tempHome('oct-hardening-');
    rt = await createDockerSandboxRuntime(undefined, { ioRoot: join(home.dir, 'io') });
  });
  afterAll(async () => {
    for (const id of created) await rt.remove(id).catch(() => undefined);
    await rt.close();
    home.cleanup();
  });

  it('shows the hardening in docker inspect and from inside', async () => {
    const taskId = await up({ cpus: 0.5, memoryMb: 64, pids: 50 });
    const i = await docker.getContainer(`oct-${taskId}`).inspect();
    const hc = i.HostConfig;
    expect(hc.CapDrop).toEqual(['ALL']);
    expect(hc.CapAdd ?? []).toEqual([]);
    expect(hc.SecurityOpt).toContain('no-new-privileges:true');
    expect(hc.Privileged).toBe(false);
    expect(hc.PidsLimit).toBe(50);
    expect(hc.Memory).toBe(64 * 1024 * 1024);
    expect(hc.MemorySwap).toBe(hc.Memory);
    expect(hc.NanoCpus).toBe(5e8);
    expect(hc.Init).toBe(true);
    expect(hc.NetworkMode).toBe('none');
    expect(hc.LogConfig).toEqual({
      Type: 'json-file',
      Config: { 'max-size': '1m', 'max-file': '1' },
    });
    expect(hc.Binds ?? []).toEqual([]);
    // The workspace, and the sessions' FIFO directory (read-only; see session-fifo.spec).
    expect(i.Mounts.map((m) => [m.Type, m.Destination, m.RW]).sort()).toEqual([
      ['bind', '/run/opencode-tools', false],
      ['volume', '/workspace', true],
    ]);
    expect(i.Config.Labels).toMatchObject({ 'opencode-tools.task-id': taskId });
    const status = await sh(
      taskId,
      'grep -E "^(NoNewPrivs|CapEff|CapPrm|CapBnd):" /proc/self/status',
    );
    expect(status.stdout).toMatch(/NoNewPrivs:\s+1/);
    expect(status.stdout).toMatch(/CapEff:\s+0000000000000000/);
    expect(status.stdout).toMatch(/CapBnd:\s+0000000000000000/);
    // PID 1 is Docker's init, so signals work and zombies are reaped.
    expect((await sh(taskId, 'cat /proc/1/cmdline | tr "\\0" " "')).stdout).toMatch(/init/);
    // Without capabilities even root cannot do privileged things.
    const mount = await sh(taskId, 'mount -t tmpfs none /mnt 2>&1; echo rc=$?');
    expect(mount.stdout).toMatch(/rc=[1-9]/);
  });

  it('stops a sandbox promptly thanks to the init process', async () => {
    const taskId = await up();
    const t0 = Date.now();
    await rt.stop(taskId, 10_000);
    const ms = Date.now() - t0;
    console.log(`stop with init: ${ms} ms`);
    expect(ms).toBeLessThan(3000);
  });

  it('contains a fork bomb with the pids limit while the orchestrator stays responsive', async () => {
    const taskId = await up({ pids: 64, memoryMb: 128 });
    const other = await up();
    let maxLag = 0;
    let last = Date.now();
    const lag = setInterval(() => {
      const now = Date.now();
      maxLag = Math.max(maxLag, now - last - 50);
      last = now;
    }, 50);
    // Each call leaves a sleeper behind and forks twice more: the sandbox fills up to its pids
    // limit (busybox sh gives up on a failed fork, the sleepers stay) until the timeout kills it.
    const bomb = sh(taskId, '(bomb() { sleep 60 & bomb & bomb; }; bomb); exec sleep 60', 5000);
    await new Promise((r) => setTimeout(r, 2000));
    // Mid-bomb: the engine and another sandbox still answer, and the bomb sits at the limit.
    const t0 = Date.now();
    const echo = await rt.exec(other, {
      command: ['echo', 'alive'],
      timeoutMs: 10_000,
      outputCapBytes: 1024,
    });
    const otherMs = Date.now() - t0;
    const stats = await rt.stats(taskId);
    const r = await bomb;
    clearInterval(lag);
    console.log(
      `fork bomb: pids during ${stats.pids}/${stats.pidsLimit}, other sandbox exec ${otherMs} ms, max event-loop lag ${maxLag} ms, bomb returned after ${r.durationMs} ms (timedOut ${r.timedOut})`,
    );
    expect(echo.stdout).toBe('alive\n');
    expect(stats.pids).toBeLessThanOrEqual(64);
    expect(stats.pids).toBeGreaterThan(20);
    expect(r.stderr).toContain("can't fork"); // it really did run into the limit
    expect(r.timedOut).toBe(true);
    expect(maxLag).toBeLessThan(1000);
    // Afterwards the sandbox is usable and the bomb is gone.
    // (The session's own processes stay: its shell, two output tees, and two leaders, each with
    // its waiting command shell.)
    const after = await sh(taskId, 'ps -o args | grep -c "[s]leep 60"');
    // On failure, the processes left (and the bomb's result) show in the diff.
    const left =
      after.stdout.trim() === '0'
        ? '0'
        : `${after.stdout}${JSON.stringify(r)}\n${(await sh(taskId, 'ps -o pid,ppid,pgid,stat,args')).stdout}`;
    expect(left).toBe('0');
    const all = await sh(taskId, 'ps -o pid,comm | wc -l');
    expect(Number(all.stdout.trim())).toBeLessThan(14);
  });

  it('reports a memory hog as OOM-killed and keeps the sandbox', async () => {
    const taskId = await up({ memoryMb: 32 });
    const r = await sh(taskId, 'a=xxxxxxxxxxxxxxxx; while true; do a="$a$a"; done', 30_000);
    console.log(`memory hog: exit ${r.exitCode}, oomKilled ${r.oomKilled}, ${r.durationMs} ms`);
    expect(r.exitCode).toBe(137);
    expect(r.oomKilled).toBe(true);
    expect((await sh(taskId, 'echo still here')).stdout).toBe('still here\n');
  });

  it('kills a process the command moved out of its group, also with the pids limit used up', async () => {
    const taskId = await up({ pids: 16 });
    // One sleeper in a session of its own (out of the command's process group), then sleepers
    // until no fork is left (the session itself holds 7 processes; busybox sh gives up on a
    // failed fork, so a subshell forks them), and the command's shell becomes one more.
    const r = await sh(
      taskId,
      'setsid sleep 601 & (i=0; while [ $i -lt 30 ]; do sleep 602 & i=$((i+1)); done) 2>/dev/null; exec sleep 603',
      3000,
    );
    expect(r.timedOut).toBe(true);
    const left = await sh(taskId, 'ps -o pid,pgid,args | grep "[s]leep 60" || true');
    expect(left.stdout).toBe('');
  });

  it('answers an exit 137 that was no OOM kill without waiting for an OOM event past its bound', async () => {
    const taskId = await up();
    const t0 = Date.now();
    const r = await sh(taskId, "sh -c 'kill -9 $$'; echo after >&2; exit 137");
    const ms = Date.now() - t0;
    console.log(`exit 137 without OOM: answered after ${ms} ms`);
    expect(r.exitCode).toBe(137);
    expect(r.oomKilled).toBe(false);
    expect(r.stderr).toMatch(/after\n$/);
  });

  it('kills `sleep 3600` at a 2 s timeout with no process left behind', async () => {
    const taskId = await up();
    const t0 = Date.now();
    const r = await rt.exec(taskId, {
      command: ['sleep', '3600'],
      timeoutMs: 2000,
      outputCapBytes: 1024,
    });
    const ms = Date.now() - t0;
    const bg = await sh(taskId, 'sleep 3601 & sleep 3602 & wait', 1000);
    const ps = await sh(taskId, 'ps -o args');
    console.log(
      `timeout: returned after ${ms} ms (kill latency ${ms - 2000} ms); ps:\n${ps.stdout}`,
    );
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBeNull();
    expect(ms).toBeLessThan(5000);
    expect(bg.timedOut).toBe(true);
    expect(ps.stdout).not.toMatch(/sleep 360[0-2]/);
  });

  it('falls back to restarting the container when the in-container kill cannot run', async () => {
    const taskId = await up();
    await rt.writeFile(taskId, '/workspace/kept.txt', Buffer.from('kept'));
    // No shell left for the kill script (the same happens when the pids limit is exhausted).
    await rt.exec(taskId, {
      command: ['mv', '/bin/sh', '/bin/sh.off'],
      timeoutMs: 5000,
      outputCapBytes: 1024,
    });
    const t0 = Date.now();
    const r = await rt.exec(taskId, {
      command: ['sleep', '3600'],
      timeoutMs: 1000,
      outputCapBytes: 1024,
    });
    console.log(`timeout without a shell: returned after ${Date.now() - t0} ms`);
    expect(r.timedOut).toBe(true);
    expect((await rt.inspect(taskId))?.state).toBe('running');
    const ps = await rt.exec(taskId, {
      command: ['ps', '-o', 'args'],
      timeoutMs: 5000,
      outputCapBytes: 4096,
    });
    expect(ps.stdout).not.toContain('sleep 3600');
    expect((await rt.readFile(taskId, '/workspace/kept.txt', 100)).toString()).toBe('kept');
  });

  it('caps an output flood (head and tail kept) with the orchestrator memory bounded', async () => {
    const taskId = await up();
    global.gc?.();
    const base = process.memoryUsage().rss;
    let peak = base;
    const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    let streamed = 0;
    const total = 200 * 1024 * 1024;
    const r = await rt.exec(
      taskId,
      {
        command: { shell: `echo START; yes 0123456789abcdef | head -c ${total}; echo; echo END` },
        timeoutMs: 60_000,
        outputCapBytes: 1 << 20,
      },
      (_s, chunk) => (streamed += chunk.length),
    );
    clearInterval(sample);
    const grewMb = (peak - base) / 1048576;
    console.log(
      `flood: ${r.stdoutBytes} bytes in ${r.durationMs} ms, kept ${r.stdout.length}, rss grew ${grewMb.toFixed(1)} MiB`,
    );
    expect(r.exitCode).toBe(0);
    expect(r.truncated).toBe(true);
    expect(r.stdoutBytes).toBe(total + 'START\n\nEND\n'.length);
    expect(streamed).toBe(r.stdoutBytes);
    expect(r.stdout.startsWith('START\n0123456789abcdef')).toBe(true);
    expect(r.stdout.endsWith('\nEND\n')).toBe(true);
    expect(r.stdout).toMatch(/bytes omitted/);
    expect(Buffer.byteLength(r.stdout)).toBeLessThan((1 << 20) + 200);
    expect(grewMb).toBeLessThan(100); // 200 MiB went through
  });

  describe('network', () => {
    let server: Server;
    let port: number;
    beforeAll(async () => {
      server = createServer((_, res) => res.end('pong'));
      await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it('has no egress under `none`: loopback only, no route; `bridge` (opt-in) does reach the host', async () => {
      const bridged = await up({ network: 'bridge' });
      const net = await docker.getNetwork(`oct-net-${bridged}`).inspect();
      const gateway = net.IPAM?.Config?.[0]?.Gateway as string;
      expect(net.Internal).toBe(false);
      // Positive control: a server on this machine, reached through the task's own bridge.
      // (busybox-static's wget crashes resolving names, so plain nc speaks HTTP here.)
      const get = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${gateway} ${port}; echo rc=$?`;
      const ok = await sh(bridged, get);
      expect(ok.stdout).toMatch(/pong\s*rc=0/);

      const isolated = await up({ network: 'none' });
      expect((await sh(isolated, 'ls /sys/class/net')).stdout.trim()).toBe('lo');
      expect((await sh(isolated, 'ip route')).stdout.trim()).toBe('');
      const blocked = await sh(isolated, `${get} 2>&1`);
      expect(blocked.stdout).toMatch(/rc=[1-9]/);
      expect(blocked.stdout).not.toContain('pong');
    });

    it('`internal` gets a task-private, internal (no egress) network', async () => {
      const taskId = await up({ network: 'internal' });
      const net = await docker.getNetwork(`oct-net-${taskId}`).inspect();
      expect(net.Internal).toBe(true);
      expect(net.Labels).toMatchObject({ 'opencode-tools.task-id': taskId });
      expect((await sh(taskId, 'ls /sys/class/net | sort | tr "\\n" " "')).stdout).toBe('eth0 lo ');
    });
  });
});
