import { CappedOutput } from '../../domain/capped-output';
import { ConflictError, DomainError, NotFoundError, ValidationError } from '../../domain/errors';
import {
  SANDBOX_LABELS,
  type ExecOutputListener,
  type ExecRequest,
  type ExecResult,
  type PullProgressListener,
  type SandboxConfig,
  type SandboxInfo,
  type SandboxResource,
  type SandboxRuntime,
  type SandboxStats,
  type SessionOutput,
  type StartedExec,
} from '../../ports/sandbox-runtime.port';

/** What a fake command produced. */
export interface FakeExecOutcome {
  exitCode: number;
  stdout?: string;
  stderr?: string;
  /** Simulated run time; past the exec timeout the command counts as timed out. */
  durationMs?: number;
  oomKilled?: boolean;
}

export type FakeExecHandler = (
  argv: string[],
  ctx: { env: Record<string, string>; workdir: string; stdin: string; taskId: string },
) => FakeExecOutcome | undefined;

export interface MemorySandboxOptions {
  /** Images present "locally". */
  images?: string[];
  /** Images a pull succeeds for (with fake progress); anything else fails to pull. */
  pullable?: string[];
  /** Extra commands; return undefined to fall through to the built-ins. */
  exec?: FakeExecHandler;
  /** Make every call fail as if the engine were down. */
  down?: boolean;
  /** Treat every image as present (OPENCODE_SANDBOX_RUNTIME=memory). */
  allImages?: boolean;
  /** The engine's id (default `memory`); fakes with different ids act as different hosts' engines. */
  engineId?: string;
}

interface FakeSandbox {
  info: SandboxInfo;
  env: Record<string, string>;
  files: Map<string, Buffer>;
}

const WORKSPACE = '/workspace';

/**
 * An in-process stand-in for a container engine: a real driver for tests, demos and machines
 * without Docker. It keeps lifecycle state, labels, networks, volumes and files; `exec` runs a
 * small set of built-in commands (echo, cat, printenv, pwd, true, false, sleep, sh -c 'exit N').
 */
export class MemorySandboxRuntime implements SandboxRuntime {
  readonly description = 'memory (no containers)';
  private readonly images: Set<string>;
  private readonly sandboxes = new Map<string, FakeSandbox>();
  private readonly networks = new Map<string, SandboxResource>();
  private readonly volumes = new Map<
    string,
    { res: SandboxResource; files: Map<string, Buffer> }
  >();
  private seq = 0;

  constructor(private readonly opts: MemorySandboxOptions = {}) {
    this.images = new Set(opts.images ?? []);
  }

  /** Simulates the engine going away (true) or coming back (false). */
  setDown(down: boolean): void {
    this.opts.down = down;
  }

  /** Test helper: removes a container behind the runtime's back (as `docker rm -f` would). */
  vanish(taskId: string): void {
    this.sandboxes.delete(taskId);
  }

  private up(): void {
    if (this.opts.down) {
      throw new DomainError(
        'SANDBOX_UNAVAILABLE',
        'sandbox engine unavailable (memory runtime switched off)',
      );
    }
  }

  async ping() {
    this.up();
    return { engineId: this.opts.engineId ?? 'memory', version: '0', engineName: 'memory' };
  }

  async ensureImage(image: string, pull: 'missing' | 'never', onProgress?: PullProgressListener) {
    this.up();
    if (this.images.has(image) || this.opts.allImages) return 'present' as const;
    if (pull === 'never' || !(this.opts.pullable ?? []).includes(image)) {
      throw new DomainError(
        'NOT_FOUND',
        `image '${image}' is not present on the engine and pulling it failed: not in the memory runtime's pullable list`,
        { kind: 'image', id: image },
      );
    }
    for (const current of [0, 50, 100]) {
      onProgress?.({ image, status: 'Downloading', layer: 'fake', current, total: 100 });
    }
    onProgress?.({ image, status: 'done' });
    this.images.add(image);
    return 'pulled' as const;
  }

  async create(config: SandboxConfig, onProgress?: PullProgressListener): Promise<SandboxInfo> {
    this.up();
    const { taskId } = config;
    if (this.sandboxes.has(taskId)) {
      throw new ConflictError(`task ${taskId} already has a sandbox`, { taskId });
    }
    await this.ensureImage(config.image, config.pull, onProgress);
    const labels: Record<string, string> = {
      ...config.labels,
      [SANDBOX_LABELS.managed]: 'true',
      [SANDBOX_LABELS.taskId]: taskId,
    };
    const now = new Date().toISOString();
    const res = (kind: SandboxResource['kind'], name: string): SandboxResource => ({
      kind,
      name,
      taskId,
      instanceId: labels[SANDBOX_LABELS.instanceId],
      registry: labels[SANDBOX_LABELS.registry],
      createdAt: now,
    });
    const volume = `oct-ws-${taskId}`;
    if (!this.volumes.has(taskId)) {
      this.volumes.set(taskId, { res: res('volume', volume), files: new Map() });
    }
    let network: string | undefined;
    if (config.network !== 'none') {
      network = `oct-net-${taskId}`;
      this.networks.set(taskId, res('network', network));
    }
    const info: SandboxInfo = {
      taskId,
      containerId: `fake${(++this.seq).toString(16).padStart(12, '0')}`,
      name: `oct-${taskId}`,
      image: config.image,
      state: 'created',
      oomKilled: false,
      exitCode: null,
      createdAt: now,
      labels,
      network,
      volume,
      limits: { cpus: config.cpus, memoryMb: config.memoryMb, pids: config.pids },
    };
    this.sandboxes.set(taskId, {
      info,
      env: { ...config.env, __WORKDIR: config.workdir },
      files: new Map(),
    });
    return structuredClone(info);
  }

  private must(taskId: string): FakeSandbox {
    this.up();
    const s = this.sandboxes.get(taskId);
    if (!s) throw new NotFoundError('sandbox', taskId);
    return s;
  }

  async start(taskId: string) {
    const s = this.must(taskId);
    if (s.info.state !== 'running') {
      s.info.state = 'running';
      s.info.exitCode = null;
      s.info.startedAt = new Date().toISOString();
      delete s.info.finishedAt;
    }
    return structuredClone(s.info);
  }

  async stop(taskId: string, _graceMs: number) {
    const s = this.must(taskId);
    if (s.info.state === 'running' || s.info.state === 'paused') {
      s.info.state = 'exited';
      s.info.exitCode = 143;
      s.info.finishedAt = new Date().toISOString();
    }
    return structuredClone(s.info);
  }

  async pause(taskId: string) {
    const s = this.must(taskId);
    if (s.info.state !== 'running' && s.info.state !== 'paused') {
      throw new ConflictError(
        `sandbox of task ${taskId} is ${s.info.state}; only a running one can be paused`,
      );
    }
    s.info.state = 'paused';
    return structuredClone(s.info);
  }

  async unpause(taskId: string) {
    const s = this.must(taskId);
    if (s.info.state === 'paused') s.info.state = 'running';
    return structuredClone(s.info);
  }

  async remove(taskId: string, opts: { keepVolume?: boolean } = {}) {
    this.up();
    const removed: SandboxResource[] = [];
    if (this.sandboxes.delete(taskId)) {
      removed.push({ kind: 'container', name: `oct-${taskId}`, taskId });
    }
    const net = this.networks.get(taskId);
    if (net && this.networks.delete(taskId)) removed.push({ ...net });
    const vol = this.volumes.get(taskId);
    if (vol && !opts.keepVolume && this.volumes.delete(taskId)) removed.push({ ...vol.res });
    return removed;
  }

  async inspect(taskId: string) {
    this.up();
    const s = this.sandboxes.get(taskId);
    return s ? structuredClone(s.info) : null;
  }

  async list() {
    this.up();
    return [...this.sandboxes.values()].map((s) => structuredClone(s.info));
  }

  async listResources(): Promise<SandboxResource[]> {
    this.up();
    return [
      ...[...this.sandboxes.values()].map((s) => ({
        kind: 'container' as const,
        name: s.info.name,
        taskId: s.info.taskId,
        instanceId: s.info.labels[SANDBOX_LABELS.instanceId],
        registry: s.info.labels[SANDBOX_LABELS.registry],
        createdAt: s.info.createdAt,
      })),
      ...[...this.networks.values()].map((n) => ({ ...n })),
      ...[...this.volumes.values()].map((v) => ({ ...v.res })),
    ];
  }

  async exec(taskId: string, req: ExecRequest, onOutput?: ExecOutputListener): Promise<ExecResult> {
    const s = this.must(taskId);
    if (s.info.state !== 'running') {
      throw new ConflictError(
        `sandbox of task ${taskId} is ${s.info.state}, not running; resume the task first`,
        { taskId, state: s.info.state },
      );
    }
    const argv = Array.isArray(req.command) ? req.command : ['/bin/sh', '-c', req.command.shell];
    const { __WORKDIR: defaultWorkdir, ...baseEnv } = s.env;
    const ctx = {
      env: { ...baseEnv, ...req.env },
      workdir: req.workdir ?? defaultWorkdir,
      stdin: req.stdin === undefined ? '' : req.stdin.toString(),
      taskId,
    };
    const outcome = this.opts.exec?.(argv, ctx) ?? builtin(argv, ctx);
    const started = Date.now();
    const timedOutAtEnd = (outcome.durationMs ?? 0) > req.timeoutMs;
    const cancelled = await new Promise<boolean>((resolve) => {
      if (req.signal?.aborted) return resolve(true);
      const onAbort = () => (clearTimeout(t), resolve(true));
      const t = setTimeout(
        () => (req.signal?.removeEventListener('abort', onAbort), resolve(false)),
        Math.min(outcome.durationMs ?? 0, req.timeoutMs),
      );
      req.signal?.addEventListener('abort', onAbort, { once: true });
    });
    const timedOut = !cancelled && timedOutAtEnd;
    const killed = timedOut || cancelled;
    const out = new CappedOutput(req.outputCapBytes);
    const err = new CappedOutput(req.outputCapBytes);
    if (!killed) {
      for (const [cap, name, text] of [
        [out, 'stdout', outcome.stdout],
        [err, 'stderr', outcome.stderr],
      ] as const) {
        if (!text) continue;
        const chunk = Buffer.from(text);
        cap.push(chunk);
        onOutput?.(name, chunk);
      }
    }
    return {
      exitCode: killed ? null : outcome.exitCode,
      stdout: out.toString(),
      stderr: err.toString(),
      stdoutBytes: out.total,
      stderrBytes: err.total,
      truncated: out.truncated || err.truncated,
      timedOut,
      ...(cancelled ? { cancelled } : {}),
      oomKilled: !killed && !!outcome.oomKilled,
      durationMs: Date.now() - started,
    };
  }

  async startExec(
    taskId: string,
    req: ExecRequest,
    onOutput?: ExecOutputListener,
  ): Promise<StartedExec> {
    const s = this.must(taskId);
    if (s.info.state !== 'running') {
      throw new ConflictError(
        `sandbox of task ${taskId} is ${s.info.state}, not running; resume the task first`,
        { taskId, state: s.info.state },
      );
    }
    let killNow!: () => void;
    const killed = new Promise<void>((r) => (killNow = r));
    const started = Date.now();
    const result = Promise.race([
      this.exec(taskId, req, onOutput),
      killed.then((): ExecResult => ({
        exitCode: 137,
        stdout: '',
        stderr: '',
        stdoutBytes: 0,
        stderrBytes: 0,
        truncated: false,
        timedOut: false,
        oomKilled: false,
        killed: true,
        durationMs: Date.now() - started,
      })),
    ]);
    return { pid: () => undefined, result, kill: async () => killNow() };
  }

  /** The fake keeps no session logs: nothing outlives this process. */
  async readSessionOutput(taskId: string): Promise<SessionOutput> {
    this.must(taskId);
    throw new NotFoundError('session logs', taskId);
  }

  async killSessionCommand(): Promise<void> {
    // nothing runs beyond the process
  }

  async removeSessionLogs(): Promise<void> {
    // none kept
  }

  private filesFor(taskId: string, path: string): Map<string, Buffer> {
    const s = this.must(taskId);
    return path === WORKSPACE || path.startsWith(`${WORKSPACE}/`)
      ? this.volumes.get(taskId)!.files
      : s.files;
  }

  async readFile(taskId: string, path: string, maxBytes: number): Promise<Buffer> {
    const content = this.filesFor(taskId, path).get(path);
    if (!content) {
      throw new DomainError('NOT_FOUND', `no such file in the sandbox: ${path}`, {
        kind: 'file',
        id: path,
      });
    }
    if (content.length > maxBytes) {
      throw new ValidationError(
        'path',
        `${path} is ${content.length} bytes, over the ${maxBytes}-byte read limit (OPENCODE_SANDBOX_FILE_MAX)`,
      );
    }
    return Buffer.from(content);
  }

  async writeFile(taskId: string, path: string, content: Buffer): Promise<void> {
    this.filesFor(taskId, path).set(path, Buffer.from(content));
  }

  async stats(taskId: string): Promise<SandboxStats> {
    const s = this.must(taskId);
    if (s.info.state !== 'running' && s.info.state !== 'paused') {
      throw new ConflictError(`sandbox of task ${taskId} is ${s.info.state}; no stats`);
    }
    return {
      taskId,
      at: new Date().toISOString(),
      cpuPercent: 0,
      memoryBytes: 1024 * 1024,
      memoryLimitBytes: s.info.limits.memoryMb * 1024 * 1024,
      memoryPercent: Math.round((1 / s.info.limits.memoryMb) * 1000) / 10,
      pids: 2,
      pidsLimit: s.info.limits.pids,
      netRxBytes: 0,
      netTxBytes: 0,
    };
  }

  async close(): Promise<void> {}
}

function builtin(
  argv: string[],
  ctx: { env: Record<string, string>; workdir: string; stdin: string },
): FakeExecOutcome {
  const [cmd, ...args] = argv;
  const name = cmd?.split('/').pop();
  switch (name) {
    case 'echo':
      return { exitCode: 0, stdout: `${args.join(' ')}\n` };
    case 'cat':
      return { exitCode: 0, stdout: ctx.stdin };
    case 'printenv':
      return args[0] in ctx.env
        ? { exitCode: 0, stdout: `${ctx.env[args[0]]}\n` }
        : { exitCode: 1 };
    case 'pwd':
      return { exitCode: 0, stdout: `${ctx.workdir}\n` };
    case 'true':
      return { exitCode: 0 };
    case 'false':
      return { exitCode: 1 };
    case 'sleep':
      return { exitCode: 0, durationMs: Number(args[0]) * 1000 };
    case 'sh': {
      // Just enough shell for tests: `exit N`, and `echo WORDS [>&2]` with "$VAR" expansion.
      const script = args[0] === '-c' ? (args[1] ?? '') : '';
      const exit = /^\s*exit\s+(\d+)\s*$/.exec(script);
      if (exit) return { exitCode: Number(exit[1]) };
      const echo = /^\s*echo\s+(.*?)\s*(>&2)?\s*$/.exec(script);
      if (echo) {
        const text = echo[1]
          .replace(/"?\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?"?/g, (_, v: string) => ctx.env[v] ?? '')
          .replace(/^"(.*)"$/, '$1');
        return echo[2]
          ? { exitCode: 0, stderr: `${text}\n` }
          : { exitCode: 0, stdout: `${text}\n` };
      }
      return { exitCode: 2, stderr: `sh: the memory runtime cannot run '${script}'\n` };
    }
    default:
      return { exitCode: 127, stderr: `${cmd}: not found\n` };
  }
}
