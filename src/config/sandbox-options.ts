import { isAbsolute, resolve } from 'node:path';
import { ValidationError } from '../domain/errors';
import { parseDuration } from '../domain/duration';
import { MIN_PIDS, NETWORK_POLICIES, type NetworkPolicy } from '../domain/task';

/** Operator settings of the Docker module: defaults, maximums and policies. */
export interface SandboxOptions {
  /** `docker` (default) or `memory` (an in-process fake: tests, demos, machines without Docker). */
  runtime: 'docker' | 'memory';
  /** Limits a task gets when it names none. */
  defaults: { cpus: number; memoryMb: number; pids: number };
  /** Largest limits a task may ask for. */
  max: { cpus: number; memoryMb: number; pids: number };
  /** Network policies tasks may ask for (`none` is always allowed and the default). */
  allowedNetworks: NetworkPolicy[];
  /** Host directories tasks may mount (read-only unless asked otherwise); empty = no host mounts. */
  mountAllowList: string[];
  pull: 'missing' | 'never';
  execTimeoutMs: number;
  execTimeoutMaxMs: number;
  /** Per stream, per exec. */
  outputCapBytes: number;
  /**
   * Largest log file (per stream) a session or re-attachable exec keeps in the sandbox; output
   * past it still reaches the caller live but is not kept for a re-attach after a restart.
   */
  execLogMaxBytes: number;
  /** Largest file read or written through file operations. */
  fileMaxBytes: number;
  /** SIGTERM → SIGKILL grace when a sandbox is stopped. */
  stopGraceMs: number;
  logMaxSize: string;
  logMaxFiles: number;
  /** What the reconciler does with a live task whose container vanished. */
  onVanished: 'fail' | 'recreate';
  /** Labelled resources younger than this are never reaped as orphans (creation in flight). */
  orphanGraceMs: number;
  /** Reconcile and stats-sampling period of long-running processes (serve, mcp). */
  reconcileIntervalMs: number;
  monitorIntervalMs: number;
  /** Memory alert threshold, percent of the limit. */
  memoryAlertPercent: number;
  /** Persistent shell sessions per task for shell-string commands (0 = a `docker exec` each). */
  execSessions: number;
  /**
   * The shell of shell-string commands: `sh` (the image's /bin/sh), `bash` (bash in POSIX mode;
   * an image without bash cannot run them) or `auto` (bash where the image has it, else sh).
   */
  shell: SandboxShell;
  /**
   * How sessions talk to their shell: `fifo` (FIFOs in `<home>/io`, bind-mounted read-only into
   * each sandbox, where the engine shares this host's kernel; else, and wherever a sandbox's
   * FIFOs do not work, the attach stream) or `attach` (the `docker exec` attach stream only).
   */
  sessionIo: SessionIo;
  /** How long execute_in_task waits before answering `running` (the command goes on). */
  execYieldMs: number;
  /**
   * How long a finished re-attachable execution's record (and so its idempotency key) is kept
   * after it ended; a replay after that runs the command anew.
   */
  execKeyTtlMs: number;
  /** Warm pool: idle started sandboxes kept per profile (0 = off), total cap, idle TTL. */
  warmPool: { size: number; max: number; ttlMs: number };
}

export const SANDBOX_SHELLS = ['sh', 'bash', 'auto'] as const;
export type SandboxShell = (typeof SANDBOX_SHELLS)[number];
export const SESSION_IO_MODES = ['fifo', 'attach'] as const;
export type SessionIo = (typeof SESSION_IO_MODES)[number];

export const SANDBOX_DEFAULTS: Omit<SandboxOptions, 'mountAllowList'> = {
  runtime: 'docker',
  defaults: { cpus: 1, memoryMb: 512, pids: 256 },
  max: { cpus: 2, memoryMb: 4096, pids: 4096 },
  allowedNetworks: [...NETWORK_POLICIES],
  pull: 'missing',
  execTimeoutMs: 60_000,
  execTimeoutMaxMs: 30 * 60_000,
  outputCapBytes: 1024 * 1024,
  execLogMaxBytes: 256 * 1024 * 1024,
  fileMaxBytes: 8 * 1024 * 1024,
  stopGraceMs: 10_000,
  logMaxSize: '10m',
  logMaxFiles: 3,
  onVanished: 'fail',
  orphanGraceMs: 60_000,
  reconcileIntervalMs: 5 * 60_000,
  monitorIntervalMs: 15_000,
  memoryAlertPercent: 90,
  execSessions: 4,
  shell: 'sh',
  sessionIo: 'fifo',
  execYieldMs: 30_000,
  execKeyTtlMs: 24 * 3_600_000,
  warmPool: { size: 0, max: 8, ttlMs: 10 * 60_000 },
};

export type SandboxOptionsInput = Partial<Omit<SandboxOptions, 'defaults' | 'max' | 'warmPool'>> & {
  defaults?: Partial<SandboxOptions['defaults']>;
  max?: Partial<SandboxOptions['max']>;
  warmPool?: Partial<SandboxOptions['warmPool']>;
};

export function resolveSandboxOptions(input: SandboxOptionsInput = {}): SandboxOptions {
  const d = SANDBOX_DEFAULTS;
  return {
    ...d,
    ...input,
    defaults: { ...d.defaults, ...input.defaults },
    max: { ...d.max, ...input.max },
    warmPool: { ...d.warmPool, ...input.warmPool },
    allowedNetworks: input.allowedNetworks ?? [...d.allowedNetworks],
    mountAllowList: (input.mountAllowList ?? []).map((p) => resolve(p)),
  };
}

const D = SANDBOX_DEFAULTS;
export const SANDBOX_ENV_VARS: Record<string, string> = {
  OPENCODE_SANDBOX_RUNTIME: 'docker (default) or memory (in-process fake, no containers)',
  OPENCODE_SANDBOX_CPUS: `default CPUs per sandbox (default ${D.defaults.cpus})`,
  OPENCODE_SANDBOX_MEMORY: `default memory per sandbox, MiB (default ${D.defaults.memoryMb}; swap = memory)`,
  OPENCODE_SANDBOX_PIDS: `default process limit per sandbox (default ${D.defaults.pids})`,
  OPENCODE_SANDBOX_MAX_CPUS: `largest CPUs a task may ask for (default ${D.max.cpus})`,
  OPENCODE_SANDBOX_MAX_MEMORY: `largest memory a task may ask for, MiB (default ${D.max.memoryMb})`,
  OPENCODE_SANDBOX_MAX_PIDS: `largest process limit a task may ask for (default ${D.max.pids})`,
  OPENCODE_SANDBOX_NETWORKS: `network policies tasks may use, comma-separated (default ${D.allowedNetworks.join(',')})`,
  OPENCODE_SANDBOX_MOUNTS:
    'host directories tasks may mount, colon-separated absolute paths (default none)',
  OPENCODE_SANDBOX_PULL: `missing (pull absent images, default) or never`,
  OPENCODE_EXEC_TIMEOUT: `default exec timeout (duration, default ${D.execTimeoutMs / 1000}s)`,
  OPENCODE_EXEC_TIMEOUT_MAX: `largest exec timeout a caller may ask for (default ${D.execTimeoutMaxMs / 60_000}m)`,
  OPENCODE_EXEC_OUTPUT_CAP: `bytes kept per output stream per exec, head + tail (default ${D.outputCapBytes})`,
  OPENCODE_EXEC_LOG_MAX: `largest log per output stream a command keeps in its sandbox for re-attaching after a restart, bytes (default ${D.execLogMaxBytes}, at least 1048576, a multiple of 512)`,
  OPENCODE_SANDBOX_FILE_MAX: `largest file read or written in a sandbox, bytes (default ${D.fileMaxBytes})`,
  OPENCODE_SANDBOX_STOP_GRACE: `SIGTERM-to-SIGKILL grace when stopping (duration, default ${D.stopGraceMs / 1000}s)`,
  OPENCODE_SANDBOX_ON_VANISHED: `fail (default) or recreate: what the reconciler does when a live task's container is gone`,
  OPENCODE_SANDBOX_ORPHAN_GRACE: `never reap labelled resources younger than this (duration, default ${D.orphanGraceMs / 1000}s)`,
  OPENCODE_SANDBOX_RECONCILE_INTERVAL: `reconcile period in serve/mcp (duration, default ${D.reconcileIntervalMs / 60_000}m; 0 = only at start-up)`,
  OPENCODE_EXEC_SESSIONS: `persistent shell sessions per task for shell-string commands; more concurrent calls queue (default ${D.execSessions}; 0 = one docker exec per command)`,
  OPENCODE_SANDBOX_SHELL: `shell of shell-string commands: sh (the image's /bin/sh, default), bash (bash in POSIX mode: [[ ]], arrays, source, pipefail; fails where the image has no bash) or auto (bash where the image has it, else sh)`,
  OPENCODE_SESSION_IO: `how sessions reach their shell: fifo (default: FIFOs under <home>/io, mounted read-only into each sandbox at /run/opencode-tools, where the engine runs on this host's kernel; else the attach stream) or attach (always the docker exec attach stream, ~0.2 ms more per round trip; sandboxes get no io mount)`,
  OPENCODE_EXEC_YIELD: `how long execute_in_task waits before answering status "running" with the output so far; exec_poll / exec_wait / exec_kill continue it (duration, default ${D.execYieldMs / 1000}s)`,
  OPENCODE_EXEC_KEY_TTL: `how long an idempotency key (and the record of a re-attachable execution) is kept after its execution ended; a replay after that runs the command anew (duration, default ${D.execKeyTtlMs / 3_600_000}h)`,
  OPENCODE_WARM_POOL: `idle, started sandboxes kept ready per sandbox profile by serve/mcp (default ${D.warmPool.size} = off; opencode-tools pool --size changes it at run time)`,
  OPENCODE_WARM_POOL_MAX: `most warm sandboxes over all profiles (default ${D.warmPool.max})`,
  OPENCODE_WARM_POOL_TTL: `a warm sandbox unclaimed this long is removed (duration, default ${D.warmPool.ttlMs / 60_000}m)`,
  OPENCODE_SANDBOX_MONITOR_INTERVAL: `stats sampling period in serve/mcp (duration, default ${D.monitorIntervalMs / 1000}s; 0 = off)`,
};

function num(name: string, raw: string, min: number, int: boolean): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || (int && !Number.isInteger(n))) {
    throw new ValidationError(
      name,
      `'${raw}' is not ${int ? 'a whole number' : 'a number'} >= ${min}`,
    );
  }
  return n;
}

function oneOf<T extends string>(name: string, raw: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ValidationError(name, `'${raw}' is not one of: ${allowed.join(', ')}`);
  }
  return raw as T;
}

/** Reads the OPENCODE_SANDBOX_* / OPENCODE_EXEC_* variables; a bad value names its variable. */
export function sandboxOptionsFromEnv(
  get: (name: string) => string | undefined,
): SandboxOptionsInput {
  const out: SandboxOptionsInput = { defaults: {}, max: {}, warmPool: {} };
  const v = (k: string, f: (raw: string) => void) => {
    const raw = get(k);
    if (raw !== undefined) f(raw.trim());
  };
  const dur = (k: string) => (raw: string) => parseDuration(raw, k);
  v(
    'OPENCODE_SANDBOX_RUNTIME',
    (r) => (out.runtime = oneOf('OPENCODE_SANDBOX_RUNTIME', r, ['docker', 'memory'] as const)),
  );
  v(
    'OPENCODE_SANDBOX_CPUS',
    (r) => (out.defaults!.cpus = num('OPENCODE_SANDBOX_CPUS', r, 0.01, false)),
  );
  v(
    'OPENCODE_SANDBOX_MEMORY',
    (r) => (out.defaults!.memoryMb = num('OPENCODE_SANDBOX_MEMORY', r, 6, true)),
  );
  v(
    'OPENCODE_SANDBOX_PIDS',
    (r) => (out.defaults!.pids = num('OPENCODE_SANDBOX_PIDS', r, MIN_PIDS, true)),
  );
  v(
    'OPENCODE_SANDBOX_MAX_CPUS',
    (r) => (out.max!.cpus = num('OPENCODE_SANDBOX_MAX_CPUS', r, 0.01, false)),
  );
  v(
    'OPENCODE_SANDBOX_MAX_MEMORY',
    (r) => (out.max!.memoryMb = num('OPENCODE_SANDBOX_MAX_MEMORY', r, 6, true)),
  );
  v(
    'OPENCODE_SANDBOX_MAX_PIDS',
    (r) => (out.max!.pids = num('OPENCODE_SANDBOX_MAX_PIDS', r, MIN_PIDS, true)),
  );
  v('OPENCODE_SANDBOX_NETWORKS', (r) => {
    out.allowedNetworks = r
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => oneOf('OPENCODE_SANDBOX_NETWORKS', s, NETWORK_POLICIES));
  });
  v('OPENCODE_SANDBOX_MOUNTS', (r) => {
    out.mountAllowList = r.split(':').filter(Boolean);
    for (const p of out.mountAllowList) {
      if (!isAbsolute(p))
        throw new ValidationError('OPENCODE_SANDBOX_MOUNTS', `'${p}' is not an absolute path`);
    }
  });
  v(
    'OPENCODE_SANDBOX_PULL',
    (r) => (out.pull = oneOf('OPENCODE_SANDBOX_PULL', r, ['missing', 'never'] as const)),
  );
  v('OPENCODE_EXEC_TIMEOUT', (r) => (out.execTimeoutMs = dur('OPENCODE_EXEC_TIMEOUT')(r)));
  v(
    'OPENCODE_EXEC_TIMEOUT_MAX',
    (r) => (out.execTimeoutMaxMs = dur('OPENCODE_EXEC_TIMEOUT_MAX')(r)),
  );
  v(
    'OPENCODE_EXEC_OUTPUT_CAP',
    (r) => (out.outputCapBytes = num('OPENCODE_EXEC_OUTPUT_CAP', r, 1024, true)),
  );
  v('OPENCODE_EXEC_LOG_MAX', (r) => {
    const n = num('OPENCODE_EXEC_LOG_MAX', r, 1024 * 1024, true);
    if (n % 512)
      throw new ValidationError('OPENCODE_EXEC_LOG_MAX', `'${r}' is not a multiple of 512`);
    out.execLogMaxBytes = n;
  });
  v(
    'OPENCODE_SANDBOX_FILE_MAX',
    (r) => (out.fileMaxBytes = num('OPENCODE_SANDBOX_FILE_MAX', r, 1, true)),
  );
  v(
    'OPENCODE_SANDBOX_STOP_GRACE',
    (r) => (out.stopGraceMs = dur('OPENCODE_SANDBOX_STOP_GRACE')(r)),
  );
  v(
    'OPENCODE_SANDBOX_ON_VANISHED',
    (r) =>
      (out.onVanished = oneOf('OPENCODE_SANDBOX_ON_VANISHED', r, ['fail', 'recreate'] as const)),
  );
  v(
    'OPENCODE_SANDBOX_ORPHAN_GRACE',
    (r) => (out.orphanGraceMs = dur('OPENCODE_SANDBOX_ORPHAN_GRACE')(r)),
  );
  v(
    'OPENCODE_SANDBOX_RECONCILE_INTERVAL',
    (r) => (out.reconcileIntervalMs = dur('OPENCODE_SANDBOX_RECONCILE_INTERVAL')(r)),
  );
  v(
    'OPENCODE_SANDBOX_MONITOR_INTERVAL',
    (r) => (out.monitorIntervalMs = dur('OPENCODE_SANDBOX_MONITOR_INTERVAL')(r)),
  );
  v(
    'OPENCODE_EXEC_SESSIONS',
    (r) => (out.execSessions = num('OPENCODE_EXEC_SESSIONS', r, 0, true)),
  );
  v(
    'OPENCODE_SANDBOX_SHELL',
    (r) => (out.shell = oneOf('OPENCODE_SANDBOX_SHELL', r, SANDBOX_SHELLS)),
  );
  v(
    'OPENCODE_SESSION_IO',
    (r) => (out.sessionIo = oneOf('OPENCODE_SESSION_IO', r, SESSION_IO_MODES)),
  );
  v('OPENCODE_WARM_POOL', (r) => (out.warmPool!.size = num('OPENCODE_WARM_POOL', r, 0, true)));
  v(
    'OPENCODE_WARM_POOL_MAX',
    (r) => (out.warmPool!.max = num('OPENCODE_WARM_POOL_MAX', r, 0, true)),
  );
  v('OPENCODE_WARM_POOL_TTL', (r) => (out.warmPool!.ttlMs = dur('OPENCODE_WARM_POOL_TTL')(r)));
  v('OPENCODE_EXEC_YIELD', (r) => (out.execYieldMs = dur('OPENCODE_EXEC_YIELD')(r)));
  v('OPENCODE_EXEC_KEY_TTL', (r) => {
    out.execKeyTtlMs = dur('OPENCODE_EXEC_KEY_TTL')(r);
    if (out.execKeyTtlMs <= 0) throw new ValidationError('OPENCODE_EXEC_KEY_TTL', 'must be > 0');
  });
  const res = resolveSandboxOptions(out);
  for (const k of ['cpus', 'memoryMb', 'pids'] as const) {
    if (res.defaults[k] > res.max[k]) {
      throw new ValidationError(
        k === 'cpus'
          ? 'OPENCODE_SANDBOX_CPUS'
          : k === 'memoryMb'
            ? 'OPENCODE_SANDBOX_MEMORY'
            : 'OPENCODE_SANDBOX_PIDS',
        `default ${res.defaults[k]} is above the maximum ${res.max[k]}`,
      );
    }
  }
  if (res.execTimeoutMs > res.execTimeoutMaxMs) {
    throw new ValidationError(
      'OPENCODE_EXEC_TIMEOUT',
      `${res.execTimeoutMs}ms is above OPENCODE_EXEC_TIMEOUT_MAX (${res.execTimeoutMaxMs}ms)`,
    );
  }
  return out;
}
