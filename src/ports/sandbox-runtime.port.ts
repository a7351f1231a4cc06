import type { OpenCodeToolsOptions } from '../config/options';
import type { NetworkPolicy } from '../domain/task';

/** DI token for {@link SandboxRuntime}. */
export const SANDBOX_RUNTIME = Symbol('opencode-tools:SandboxRuntime');

/** Labels on everything the runtime creates; the reconciler finds its resources by them. */
/**
 * Where a Docker sandbox sees its sessions' FIFO directory (OPENCODE_SESSION_IO=fifo): reserved,
 * no task mount may use it.
 */
export const SESSION_IO_TARGET = '/run/opencode-tools';

export const SANDBOX_LABELS = {
  managed: 'opencode-tools.managed',
  taskId: 'opencode-tools.task-id',
  instanceId: 'opencode-tools.instance-id',
  version: 'opencode-tools.version',
  /** Which task registry (database) the sandbox belongs to; a reconciler only reaps its own. */
  registry: 'opencode-tools.registry',
  /** Set on warm-pool sandboxes (the profile key); they carry the id of the task that claims them. */
  pool: 'opencode-tools.pool',
} as const;

export interface HostMount {
  /** Absolute host path, inside one of the operator's allowed roots. */
  source: string;
  /** Absolute path in the sandbox. */
  target: string;
  readOnly: boolean;
}

/**
 * A fully resolved sandbox: the task's spec merged with the operator's defaults and checked
 * against the operator's maximums (the Docker module's `SandboxPolicy` builds it).
 */
export interface SandboxConfig {
  taskId: string;
  image: string;
  cpus: number;
  memoryMb: number;
  pids: number;
  network: NetworkPolicy;
  env: Record<string, string>;
  workdir: string;
  mounts: HostMount[];
  /** Extra labels (instance id, version); the runtime adds the managed and task-id labels. */
  labels: Record<string, string>;
  /** Container log caps (json-file driver): size per file, e.g. `10m`, and number of files. */
  logMaxSize: string;
  logMaxFiles: number;
  /** `missing`: pull when absent (default); `never`: fail when absent. */
  pull: 'missing' | 'never';
}

export type SandboxState =
  'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'dead' | 'removing';

export interface SandboxInfo {
  taskId: string;
  containerId: string;
  name: string;
  image: string;
  state: SandboxState;
  oomKilled: boolean;
  exitCode: number | null;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  labels: Record<string, string>;
  /** Name of the task-private network (`internal` and `bridge` policies). */
  network?: string;
  /** Name of the `/workspace` volume. */
  volume: string;
  limits: { cpus: number; memoryMb: number; pids: number };
}

/**
 * Anything labelled as ours on the engine: what the reconciler compares with the registry.
 * `image`: a checkpoint's snapshot image that lost its tag and that no container uses.
 */
export interface SandboxResource {
  kind: 'container' | 'network' | 'volume' | 'image';
  name: string;
  taskId: string;
  instanceId?: string;
  registry?: string;
  createdAt?: string;
}

/** Image pull progress, one event per layer update (and a final `done`). */
export interface PullProgress {
  image: string;
  status: string;
  layer?: string;
  /** Bytes done and total over all layers seen so far (when the registry reports them). */
  current?: number;
  total?: number;
}
export type PullProgressListener = (p: PullProgress) => void;

export interface ExecRequest {
  /** An argv array (no shell), or an explicit shell string run by `/bin/sh -c`. */
  command: string[] | { shell: string };
  env?: Record<string, string>;
  workdir?: string;
  stdin?: string | Buffer;
  timeoutMs: number;
  /** Per stream; head and tail are kept. */
  outputCapBytes: number;
  /** Aborting kills the command like a timeout does; the result then says `cancelled`. */
  signal?: AbortSignal;
  /**
   * Shell strings run in the task's persistent session by default (directory and exported
   * environment carry over between commands); `fresh` runs a clean process instead.
   */
  fresh?: boolean;
  /**
   * The task's session state as another process left it (persisted by the Docker module). A
   * session command starts from it, and it holds for the task's later commands, when this runtime
   * holds none for the task or an older one (`finishedAt` decides); otherwise it is ignored.
   */
  sessionState?: SessionStateChange;
}

/**
 * The directory and exported environment a task's session commands share, as an opaque text
 * (Docker: the `export -p` text, cwd included), and when the command that left it finished
 * (epoch ms; the newest wins). May hold secrets an agent exported.
 */
export interface SessionStateChange {
  text: string;
  finishedAt: number;
}

export interface ExecResult {
  /** null when killed before it reported one. */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  stdoutBytes: number;
  stderrBytes: number;
  truncated: boolean;
  timedOut: boolean;
  /** The caller aborted the call (e.g. an MCP client cancelled it) and the command was killed. */
  cancelled?: boolean;
  /** The command (or a process it started) was killed by the kernel's OOM killer. */
  oomKilled: boolean;
  /** Killed on request (`exec_kill`), not by its timeout. */
  killed?: boolean;
  /**
   * This process lost its connection to a session command that may still be running (its output
   * goes on into the session logs); the result is not final and exitCode is null.
   */
  detached?: boolean;
  durationMs: number;
}

/**
 * Where a command keeps its output inside the sandbox: the session directory's `out` / `err`
 * logs from these byte offsets on, delimited by the command's frames (`nonce`). What a restarted
 * server needs to read it to the end. Commands in a persistent session have one; so do argv and
 * `fresh` commands where the image lets them be journaled (`wrapped`).
 */
export interface SessionCommandInfo {
  sessionDir: string;
  nonce: string;
  /** `OPENCODE_EXEC_ID` of the command's processes. */
  marker: string;
  outStart: number;
  errStart: number;
  /**
   * The command's process (group) id, known before it was sent (a session command; absent for a
   * wrapped exec, and in records written before it was kept here: their logs name it in an `S`
   * frame).
   */
  pid?: number;
  /**
   * A session command's number in its session (1 for the first): the session shell's `X` frame
   * (a leader's death) names the last request that leader took. Absent in records written before
   * it was kept.
   */
  seq?: number;
  /**
   * The command is an exec of its own behind a journaling wrapper (argv or `fresh`), with the
   * logs to itself: it has no process group of its own, so only its marker finds it.
   */
  wrapped?: boolean;
}

/** A command started by `startExec`: it runs on whether or not anyone awaits `result`. */
export interface StartedExec {
  /** Set when the command's output is also kept in the sandbox (a session, or a wrapped exec). */
  session?: SessionCommandInfo;
  /** The command's process (group) id once known. */
  pid(): number | undefined;
  result: Promise<ExecResult>;
  /** Kills the command (and what it started) now; `result` then settles with `killed: true`. */
  kill(): Promise<void>;
  /**
   * Session commands, once `result` settled: the session state the command left when it changed
   * the task's (undefined when unchanged, e.g. `echo hi`, or when it left none: killed, detached).
   */
  sessionState?(): SessionStateChange | undefined;
}

/** A session command's output read back from the sandbox logs. */
export interface SessionOutput {
  /** The command's output from its start: at most the `maxBytes` asked for. */
  stdout: Buffer;
  stderr: Buffer;
  /**
   * When the command wrote more than `maxBytes`: how many bytes after `stdout` were not read, and
   * the output after them up to the command's end (or up to now, while it runs).
   */
  stdoutTail?: SessionOutputTail;
  stderrTail?: SessionOutputTail;
  /** Present once the command ended (its end frame is in the log). */
  exitCode?: number;
  pid?: number;
  /**
   * A log reached its size cap (this many bytes) before the command's end was in it: what came
   * after, the end included, was not kept (the caller of a live command got all of it).
   */
  full?: number;
  /** With `full`: the command's process is gone, so it ended, with an exit code nobody kept. */
  gone?: boolean;
}

export interface SessionOutputTail {
  skipped: number;
  data: Buffer;
}

export type ExecOutputListener = (stream: 'stdout' | 'stderr', chunk: Buffer) => void;

export interface SandboxStats {
  taskId: string;
  at: string;
  cpuPercent: number;
  memoryBytes: number;
  memoryLimitBytes: number;
  memoryPercent: number;
  pids: number;
  pidsLimit: number | null;
  netRxBytes: number;
  netTxBytes: number;
}

/**
 * A container engine holding one sandbox per task, addressed by task id. Implementations: Docker
 * (dockerode) and an in-memory fake; both pass `test/contract/sandbox-runtime.contract.ts`.
 * Errors: `SANDBOX_UNAVAILABLE` when the engine cannot be reached, `NOT_FOUND` for a missing
 * sandbox or image, `CONFLICT` when a task already has one, `VALIDATION` for bad paths or sizes.
 */
export interface SandboxRuntime {
  /** e.g. `docker unix:///var/run/docker.sock`. */
  readonly description: string;
  /**
   * Checks the engine answers; returns its id, version and the name of its host (`engineId` +
   * `engineName` tell engines apart: they decide which orchestrator owns a sandbox).
   */
  ping(): Promise<{ engineId: string; version: string; engineName?: string }>;
  /** Uses a local image, otherwise pulls it (reporting progress) unless `pull` is `never`. */
  ensureImage(
    image: string,
    pull: 'missing' | 'never',
    onProgress?: PullProgressListener,
  ): Promise<'present' | 'pulled'>;
  /** Creates the workspace volume, the network (per policy) and the container; does not start it. */
  create(config: SandboxConfig, onProgress?: PullProgressListener): Promise<SandboxInfo>;
  start(taskId: string): Promise<SandboxInfo>;
  /** SIGTERM, then SIGKILL after `graceMs`. A stopped sandbox stays stopped. */
  stop(taskId: string, graceMs: number): Promise<SandboxInfo>;
  pause(taskId: string): Promise<SandboxInfo>;
  unpause(taskId: string): Promise<SandboxInfo>;
  /**
   * Removes the container and, unless `keepVolume`, its network and volume, then the task's
   * snapshot images that lost their tag and that no container uses any more (the removed
   * container's own image among them). Idempotent: returns what it removed (nothing when
   * nothing was there).
   */
  remove(taskId: string, opts?: { keepVolume?: boolean }): Promise<SandboxResource[]>;
  inspect(taskId: string): Promise<SandboxInfo | null>;
  /** Every sandbox container this runtime manages (by label), whoever created it. */
  list(): Promise<SandboxInfo[]>;
  /** Every labelled container, network and volume. */
  listResources(): Promise<SandboxResource[]>;
  exec(taskId: string, req: ExecRequest, onOutput?: ExecOutputListener): Promise<ExecResult>;
  /** Like `exec`, but returns once the command started; `exec` is `startExec` + `await result`. */
  startExec(taskId: string, req: ExecRequest, onOutput?: ExecOutputListener): Promise<StartedExec>;
  /**
   * Reads a session command's output and end from the sandbox (a restarted server re-attaching):
   * its first `maxBytes` per stream and, when it wrote more, the end of its log, where its end is.
   * @throws NOT_FOUND when the sandbox or the logs are gone.
   */
  readSessionOutput(
    taskId: string,
    info: SessionCommandInfo,
    maxBytes: number,
  ): Promise<SessionOutput>;
  /** Kills a session command found by its marker and process group, if it has one (after a restart). */
  killSessionCommand(taskId: string, info: SessionCommandInfo, pid?: number): Promise<void>;
  /** Removes a finished session's logs from the sandbox. */
  removeSessionLogs(taskId: string, info: SessionCommandInfo): Promise<void>;
  /** @throws VALIDATION when the file is larger than `maxBytes`, a directory or a symlink. */
  readFile(taskId: string, path: string, maxBytes: number): Promise<Buffer>;
  /** Creates missing parent directories. */
  writeFile(taskId: string, path: string, content: Buffer, opts?: { mode?: number }): Promise<void>;
  stats(taskId: string): Promise<SandboxStats>;
  close(): Promise<void>;
}

/**
 * Opens a runtime; the root module passes one (default: Docker, chosen by `sandbox.runtime`).
 * The Docker module calls it on first use only, so commands that never touch a sandbox never
 * load dockerode or contact the engine.
 */
export type SandboxRuntimeFactory = (options: OpenCodeToolsOptions) => Promise<SandboxRuntime>;
