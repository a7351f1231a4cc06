import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type Docker from 'dockerode';
import type { SandboxShell } from '../../config/sandbox-options';
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
  type SandboxState,
  type SandboxStats,
  type SessionCommandInfo,
  type SessionOutput,
  type StartedExec,
} from '../../ports/sandbox-runtime.port';
import { containerCreateOptions } from './container-spec';
import { docker, engineAddress, isNotFound, mapDockerError } from './docker-errors';
import { killTree, runExec, shellArgv, startRawExec, type RawExec } from './docker-exec';
import { ExecLogCleanup } from './exec-log-cleanup';
import { wrapDir } from './exec-wrapper';
import { LOG_FILE_MAX_BYTES, parseSessionLogs, type LogRead } from './session-protocol';
import { DEFAULT_SESSIONS_PER_TASK, SessionPool } from './session-pool';
import { fifosPossible, SessionIoDirs } from './session-io';
import {
  missingParents,
  readFileFromContainer,
  writeDirToContainer,
  writeFileToContainer,
} from './docker-files';
import { managedFilter, names } from './docker-names';
import { toSandboxStats } from './docker-stats';
import { ImageManager } from './image-manager';
import { NetworkManager } from './network-manager';
import { filesNeeded, isRootUser, resolveUser, ROOT_IDS, type UserIds } from './sandbox-user';
import { releaseSnapshotImages, unusedSnapshotImages } from './snapshot-images';
import { VolumeManager, WORKSPACE } from './volume-manager';

/** Bytes read from the end of a session log when a command wrote more than the head read. */
const LOG_TAIL_BYTES = 256 * 1024;
/**
 * Reads a session log for one command: `$1` its start offset, `$2` the log, `$3` most bytes from
 * the start, `$4` most bytes from the end. Prints the log's size on a line, then its bytes from the
 * start (at most `$3`), then, if the command wrote more, the last ones (at most `$4`, never before
 * the first part's end). Both parts are cut from that size, so output appended meanwhile cannot
 * shift them.
 */
const READ_LOG_SCRIPT = [
  's=$(wc -c <"$2") || exit 1',
  's=$((s)); echo "$s"',
  'n=$((s - $1)); if [ "$n" -gt "$3" ]; then n=$3; fi',
  'if [ "$n" -gt 0 ]; then tail -c "+$(($1 + 1))" "$2" | head -c "$n"; fi',
  'if [ $((s - $1)) -gt "$3" ]; then',
  '  t=$((s - $4)); if [ "$t" -lt $(($1 + $3)) ]; then t=$(($1 + $3)); fi',
  '  tail -c "+$((t + 1))" "$2" | head -c "$((s - t))"',
  'fi',
].join('\n');

/**
 * Exits 0 while the session command of leader `$1` runs: a process that is `$1` or its child and
 * does not hold fd 5 (the session's stdin, which the leader and its idle shell hold and a
 * command's shell closes once it has read its request). A zombie counts as running (its leader
 * reaps it at once).
 */
const RUNS_SCRIPT = [
  'for p in /proc/[0-9]*; do',
  '  read -r l <"$p/stat" 2>/dev/null || continue',
  '  i=${l%% *}; l=${l##*) }; set -- "$1" $l',
  '  if [ "$i" = "$1" ] || [ "$3" = "$1" ]; then [ -e "$p/fd/5" ] || exit 0; fi',
  '  set -- "$1"',
  'done',
  'exit 1',
].join('\n');

interface ResolvedUser {
  spec: string;
  ids: UserIds | null;
  sure: boolean;
}

/** Largest `/etc/passwd` or `/etc/group` read to resolve a sandbox's user. */
const USER_FILE_MAX = 1024 * 1024;
/** How long a command's exit 137 waits for the engine's OOM event (see `oomSince`). */
const OOM_EVENT_WAIT_MS = 1000;
const ZERO_TIME = '0001-01-01T00:00:00Z';
const time = (t?: string) => (t && t !== ZERO_TIME ? t : undefined);

/** The Docker engine behind the `SandboxRuntime` port (dockerode). */
export class DockerSandboxRuntime implements SandboxRuntime {
  readonly description: string;
  readonly images: ImageManager;
  readonly networks: NetworkManager;
  readonly volumes: VolumeManager;
  readonly sessions: SessionPool;
  private readonly shell: SandboxShell;
  /** Largest log file per stream kept in a sandbox (OPENCODE_EXEC_LOG_MAX), in bytes. */
  private readonly logMaxBytes: number;
  /** Tasks whose image has no /bin/sh: argv and fresh commands run as plain, unjournaled execs. */
  private readonly noShell = new Set<string>();
  /** Resolved `User` of each task's sandbox (its spec kept, to notice a re-created container's). */
  private readonly users = new Map<string, ResolvedUser>();
  private readonly logCleanup = new ExecLogCleanup((taskId, dirs) => this.removeDirs(taskId, dirs));
  private readonly log: (message: string) => void;
  /** Session FIFO directories (see `SessionIoDirs`); used once the engine proved local. */
  private readonly io?: SessionIoDirs;
  private ioChecked?: Promise<SessionIoDirs | undefined>;

  constructor(
    readonly client: Docker,
    opts: {
      sessionsPerTask?: number;
      log?: (message: string) => void;
      /** The shell of shell-string commands (OPENCODE_SANDBOX_SHELL). */
      shell?: SandboxShell;
      /** Largest log file per stream kept in a sandbox (OPENCODE_EXEC_LOG_MAX). */
      logMaxBytes?: number;
      /**
       * Where sessions' FIFOs live on this host (`<data home>/io`): each sandbox gets its
       * directory there, mounted read-only. None: sessions use the attach stream.
       */
      ioRoot?: string;
    } = {},
  ) {
    this.logMaxBytes = opts.logMaxBytes ?? LOG_FILE_MAX_BYTES;
    this.description = `docker (${engineAddress()})`;
    this.shell = opts.shell ?? 'sh';
    const log = opts.log ?? ((m) => process.stderr.write(`opencode-tools: ${m}\n`));
    this.log = log;
    this.io = opts.ioRoot ? new SessionIoDirs(opts.ioRoot) : undefined;
    this.sessions = new SessionPool(
      opts.sessionsPerTask ?? DEFAULT_SESSIONS_PER_TASK,
      log,
      this.shell,
      this.logMaxBytes,
      async (taskId) => {
        // (An engine that cannot answer `info` now: this session goes over the attach stream.)
        const dirs = await this.usableIo().catch(() => undefined);
        return dirs && existsSync(dirs.dir(taskId)) ? { dirs, taskId, log } : undefined;
      },
    );
    this.images = new ImageManager(client);
    this.networks = new NetworkManager(client);
    this.volumes = new VolumeManager(client);
  }

  /**
   * The FIFO directories when this engine shares this host's kernel (asked once per process;
   * asked again after a failed try): else none, and sandboxes get no io mount.
   */
  private usableIo(): Promise<SessionIoDirs | undefined> {
    const io = this.io;
    if (!io) return Promise.resolve(undefined);
    return (this.ioChecked ??= docker(() => this.client.info()).then(
      (info: { OperatingSystem?: string; OSType?: string }) =>
        fifosPossible(info) ? io : undefined,
      (err: unknown) => {
        this.ioChecked = undefined;
        throw err;
      },
    ));
  }

  async ping(): Promise<{ engineId: string; version: string; engineName: string }> {
    const info = (await docker(() => this.client.info())) as {
      ID: string;
      ServerVersion: string;
      Name: string;
    };
    return { engineId: info.ID, version: info.ServerVersion, engineName: info.Name };
  }

  ensureImage(image: string, pull: 'missing' | 'never', onProgress?: PullProgressListener) {
    return this.images.ensure(image, pull, onProgress);
  }

  async create(config: SandboxConfig, onProgress?: PullProgressListener): Promise<SandboxInfo> {
    if (await this.inspect(config.taskId)) {
      throw new ConflictError(`task ${config.taskId} already has a sandbox`, {
        taskId: config.taskId,
      });
    }
    // Image first: a bad image leaves nothing behind.
    await this.images.ensure(config.image, config.pull, onProgress);
    const { name: volume, created } = await this.volumes.ensureWorkspaceCreated(
      config.taskId,
      config.labels,
    );
    let made: Docker.Container | undefined;
    try {
      const net = await this.networks.ensure(config.taskId, config.network, config.labels);
      let io = await this.usableIo();
      let ioMount: Docker.MountSettings | undefined;
      try {
        ioMount = io?.mount(config.taskId);
      } catch (err) {
        // The directory cannot be made (a read-only home?): this sandbox goes without FIFOs.
        this.log(`no session FIFO directory for ${config.taskId}: ${(err as Error).message}`);
        io = undefined;
      }
      const mounts = this.volumes.mounts(volume, config.mounts);
      const create = (withIo: boolean) =>
        this.client.createContainer(
          containerCreateOptions(config, net.mode, [
            ...mounts,
            ...(withIo && ioMount ? [ioMount] : []),
          ]),
        );
      made = await docker(() =>
        create(true).catch((err: Error) => {
          // An engine that does not see this host's files after all (a socket forwarded from
          // another machine): no FIFOs for this process, and the sandbox is made without them.
          if (!io || !/bind source path|not shared|mounts denied/i.test(String(err?.message))) {
            throw err;
          }
          this.ioChecked = Promise.resolve(undefined);
          io.remove(config.taskId);
          this.log(
            `the engine cannot mount ${io.root} (${err.message.trim()}); sessions use the attach stream`,
          );
          return create(false);
        }),
      );
      if (created) await this.ownWorkspace(config.taskId, made);
    } catch (err) {
      // Leave nothing half-made; a workspace that existed before (re-creation) is kept, though.
      await made?.remove({ force: true }).catch(() => undefined);
      this.io?.remove(config.taskId);
      await this.networks.remove(config.taskId).catch(() => undefined);
      if (created) await this.volumes.remove(config.taskId).catch(() => undefined);
      throw mapDockerError(err);
    }
    return (await this.inspect(config.taskId))!;
  }

  /**
   * A new workspace volume's root is root-owned. Where the image's `USER` is not root it is
   * handed to that user, through the archive endpoint (the engine does it; nothing inside the
   * sandbox gets a capability for it). Files the image ships in `/workspace` keep their owners.
   */
  private async ownWorkspace(taskId: string, container: Docker.Container): Promise<void> {
    const { Config } = await docker(() => container.inspect());
    const spec = Config.User ?? '';
    if (isRootUser(spec)) return;
    const { ids, sure } = await this.resolveUser(taskId, container, spec);
    if (ids) return writeDirToContainer(container, WORKSPACE, ids);
    // Not in the files as read: refused here, before the engine's own start-time error (which
    // would come as an engine error), unless a file could not be read (then the engine decides).
    if (sure) {
      throw new ValidationError(
        'sandbox.image',
        `image '${Config.Image}' runs as USER '${spec}', which its /etc/passwd or /etc/group does not have; fix the image's USER (or give numeric ids) or use another image`,
        { user: spec },
      );
    }
  }

  /**
   * The numeric ids of the sandbox's `User` (resolved once per task and process; null: not in
   * the image's files), and whether every file needed could be read (`sure`).
   */
  private async resolveUser(
    taskId: string,
    container: Docker.Container,
    spec: string,
  ): Promise<ResolvedUser> {
    if (isRootUser(spec) && !spec.includes(':')) return { spec, ids: ROOT_IDS, sure: true };
    const known = this.users.get(taskId);
    if (known?.spec === spec) return known;
    const need = filesNeeded(spec);
    let sure = true;
    const read = (path: string) =>
      readFileFromContainer(container, path, USER_FILE_MAX).then(
        (b) => b.toString('utf8'),
        (err: unknown) => {
          // Missing: resolved without it, as the engine does. A symlink or too big: the same, but
          // the engine (which follows symlinks) may know better.
          if (err instanceof DomainError && err.code === 'NOT_FOUND') return undefined;
          if (err instanceof DomainError && err.code === 'VALIDATION') sure = false;
          else throw err;
          return undefined;
        },
      );
    const [passwd, group] = await Promise.all([
      need.passwd ? read('/etc/passwd') : undefined,
      need.group ? read('/etc/group') : undefined,
    ]);
    const resolved = { spec, ids: resolveUser(spec, { passwd, group }), sure };
    this.users.set(taskId, resolved);
    return resolved;
  }

  private container(taskId: string): Docker.Container {
    return this.client.getContainer(names.container(taskId));
  }

  private async mustInspect(taskId: string): Promise<SandboxInfo> {
    const info = await this.inspect(taskId);
    if (!info) throw new NotFoundError('sandbox', taskId);
    return info;
  }

  async start(taskId: string): Promise<SandboxInfo> {
    const info = await this.mustInspect(taskId);
    if (info.state === 'paused') await this.unpause(taskId);
    else if (info.state !== 'running') {
      // Its io directory must exist for the engine to start it (a bind mount's source).
      if (await this.usableIo()) {
        try {
          this.io!.ensure(taskId);
        } catch (err) {
          this.log(
            `cannot make the session FIFO directory of ${taskId}: ${(err as Error).message}`,
          );
        }
      }
      await this.ignore304(() => this.container(taskId).start(), taskId);
    }
    return this.mustInspect(taskId);
  }

  async stop(taskId: string, graceMs: number): Promise<SandboxInfo> {
    const info = await this.mustInspect(taskId);
    this.sessions.closeTask(taskId);
    if (info.state === 'paused') await this.unpause(taskId);
    if (info.state !== 'exited' && info.state !== 'created' && info.state !== 'dead') {
      await this.ignore304(
        () => this.container(taskId).stop({ t: Math.max(0, Math.ceil(graceMs / 1000)) }),
        taskId,
      );
    }
    return this.mustInspect(taskId);
  }

  async pause(taskId: string): Promise<SandboxInfo> {
    const info = await this.mustInspect(taskId);
    if (info.state === 'paused') return info;
    if (info.state !== 'running') {
      throw new ConflictError(
        `sandbox of task ${taskId} is ${info.state}; only a running one can be paused`,
      );
    }
    // Paused shells cannot answer; without a live session the next exec asks the engine first.
    this.sessions.closeTask(taskId);
    await docker(() => this.container(taskId).pause(), { kind: 'sandbox', id: taskId });
    return this.mustInspect(taskId);
  }

  async unpause(taskId: string): Promise<SandboxInfo> {
    const info = await this.mustInspect(taskId);
    if (info.state !== 'paused') return info;
    await docker(() => this.container(taskId).unpause(), { kind: 'sandbox', id: taskId });
    return this.mustInspect(taskId);
  }

  async remove(taskId: string, opts: { keepVolume?: boolean } = {}): Promise<SandboxResource[]> {
    const removed: SandboxResource[] = [];
    this.sessions.closeTask(taskId, { forget: true });
    this.logCleanup.forget(taskId);
    this.noShell.delete(taskId);
    this.users.delete(taskId);
    let image: string | undefined;
    try {
      const c = this.container(taskId);
      image = (await c.inspect()).Image;
      await c.remove({ force: true, v: false });
      removed.push({ kind: 'container', name: names.container(taskId), taskId });
    } catch (err) {
      if (!isNotFound(err)) throw mapDockerError(err);
    }
    if (await this.networks.remove(taskId)) {
      removed.push({ kind: 'network', name: names.network(taskId), taskId });
    }
    this.io?.remove(taskId);
    if (!opts.keepVolume && (await this.volumes.remove(taskId))) {
      removed.push({ kind: 'volume', name: names.volume(taskId), taskId });
    }
    // A container restored or forked from a checkpoint whose tag is gone leaves its image behind.
    // Not worth failing the removal for: the reconciler reaps what is left.
    const images = await releaseSnapshotImages(this.client, taskId, image).catch(() => []);
    for (const id of images) removed.push({ kind: 'image', name: id, taskId });
    return removed;
  }

  async inspect(taskId: string): Promise<SandboxInfo | null> {
    try {
      return this.toInfo(await this.container(taskId).inspect());
    } catch (err) {
      if (isNotFound(err)) return null;
      throw mapDockerError(err);
    }
  }

  async list(): Promise<SandboxInfo[]> {
    const all = await docker(() =>
      this.client.listContainers({ all: true, filters: managedFilter() }),
    );
    const infos = await Promise.all(
      all.map((c) =>
        this.client
          .getContainer(c.Id)
          .inspect()
          .then((i) => this.toInfo(i))
          .catch(() => null),
      ),
    );
    return infos.filter((i): i is SandboxInfo => i !== null);
  }

  async listResources(): Promise<SandboxResource[]> {
    const [containers, nets, vols, images] = await Promise.all([
      docker(() => this.client.listContainers({ all: true, filters: managedFilter() })),
      this.networks.listManaged(),
      this.volumes.listManaged(),
      unusedSnapshotImages(this.client),
    ]);
    const res = (
      kind: SandboxResource['kind'],
      name: string,
      taskId: string,
      labels: Record<string, string> | undefined,
      createdAt: string | undefined,
    ): SandboxResource => ({
      kind,
      name,
      taskId,
      instanceId: labels?.[SANDBOX_LABELS.instanceId],
      registry: labels?.[SANDBOX_LABELS.registry],
      createdAt,
    });
    return [
      ...containers.map((c) =>
        res(
          'container',
          (c.Names?.[0] ?? c.Id).replace(/^\//, ''),
          c.Labels?.[SANDBOX_LABELS.taskId] ?? '',
          c.Labels,
          new Date(c.Created * 1000).toISOString(),
        ),
      ),
      ...nets.map((n) => res('network', n.name, n.taskId, n.labels, n.createdAt)),
      ...vols.map((v) => res('volume', v.name, v.taskId, v.labels, v.createdAt)),
      ...images.map((i) => res('image', i.id, i.taskId, i.labels, i.createdAt)),
    ];
  }

  async exec(taskId: string, req: ExecRequest, onOutput?: ExecOutputListener): Promise<ExecResult> {
    return (await this.startExec(taskId, req, onOutput)).result;
  }

  async startExec(
    taskId: string,
    req: ExecRequest,
    onOutput?: ExecOutputListener,
  ): Promise<StartedExec> {
    const shell = !Array.isArray(req.command) && !req.fresh ? req.command : undefined;
    const container = this.container(taskId);
    const since = Date.now();
    // A live session proves the container runs: the hot path makes no engine call but the command.
    const viaSession = !!shell && this.sessions.enabled;
    const info =
      viaSession && this.sessions.hasLive(taskId) ? undefined : await this.running(taskId);
    const oom = async (result: ExecResult) => {
      if (result.exitCode === 137 && !result.timedOut && !result.killed && !result.cancelled) {
        const id = info?.containerId ?? (await this.inspect(taskId))?.containerId;
        if (id) result.oomKilled = await this.oomSince(id, since);
      }
      return result;
    };
    if (viaSession) {
      const started = await this.sessions.start(
        taskId,
        container,
        { ...req, command: shell! },
        onOutput,
      );
      // An aborted call kills the command like exec_kill does; the result says `cancelled`.
      const onAbort = () => void started.kill().catch(() => undefined);
      if (req.signal?.aborted) onAbort();
      else req.signal?.addEventListener('abort', onAbort, { once: true });
      const result = started.result.then((r) => {
        req.signal?.removeEventListener('abort', onAbort);
        if (r.killed && req.signal?.aborted) {
          const { killed: _k, ...rest } = r;
          void _k;
          return oom({ ...rest, cancelled: true });
        }
        return oom(r);
      });
      return { ...started, result };
    }
    // A fresh shell-string command (or one with sessions off) runs in the configured shell too.
    if (!Array.isArray(req.command)) {
      req = { ...req, command: shellArgv(req.command.shell, this.shell) };
    }
    let killNow!: () => void;
    const killRequested = new Promise<void>((r) => (killNow = r));
    const kill = async () => killNow();
    const settle = (p: Promise<RawExec>) =>
      p.then(async ({ result, needsRestart }) => {
        if (needsRestart) {
          // The in-container kill could not run (no shell, or no pid left): killing PID 1 takes
          // every process with it; the workspace volume is kept.
          this.sessions.closeTask(taskId);
          await docker(() => container.kill({ signal: 'SIGKILL' })).catch(() => undefined);
          await docker(() => container.start()).catch(() => undefined);
        }
        return oom(result);
      });
    if (!this.noShell.has(taskId)) {
      const wrapped = await this.startWrapped(taskId, container, req, onOutput, killRequested);
      if (wrapped) return { ...wrapped, result: settle(wrapped.result), kill };
      // No /bin/sh in this image (the wrapper never started, nor did the command): plain execs
      // from now on, unjournaled.
      this.noShell.add(taskId);
    }
    const result = settle(runExec(this.client, container, req, onOutput, killRequested));
    return { pid: () => undefined, result, kill };
  }

  /**
   * An argv or fresh command through the journaling wrapper (exec-wrapper.ts), so that another
   * process can re-attach to it; undefined when the wrapper could not start (no /bin/sh).
   */
  private async startWrapped(
    taskId: string,
    container: Docker.Container,
    req: ExecRequest,
    onOutput: ExecOutputListener | undefined,
    killRequested: Promise<void>,
  ): Promise<
    { session?: SessionCommandInfo; pid(): undefined; result: Promise<RawExec> } | undefined
  > {
    const nonce = randomBytes(16).toString('hex');
    const dir = wrapDir(nonce);
    const clean = this.logCleanup.take(taskId);
    let raw;
    try {
      raw = await startRawExec(this.client, container, req, {
        onOutput,
        killRequested,
        wrap: { nonce, dir, clean, logMaxBytes: this.logMaxBytes },
      });
    } catch (e) {
      this.logCleanup.add(taskId, ...clean);
      throw e;
    }
    const mode = await raw.mode;
    if (mode === 'none') {
      this.logCleanup.add(taskId, ...clean); // the wrapper never ran: nothing was removed
      if ((await raw.done).noWrapper) return undefined;
    }
    const result = raw.done.then((r) => {
      // This process saw the end and journals it: nobody needs the logs any more.
      if (mode !== 'none' && !r.result.detached) this.logCleanup.add(taskId, dir);
      return r;
    });
    const session: SessionCommandInfo | undefined =
      mode === 'journaled'
        ? { sessionDir: dir, nonce, marker: raw.marker, outStart: 0, errStart: 0, wrapped: true }
        : undefined;
    return { ...(session ? { session } : {}), pid: () => undefined, result };
  }

  private async running(taskId: string): Promise<SandboxInfo> {
    const info = await this.mustInspect(taskId);
    if (info.state !== 'running') {
      throw new ConflictError(
        `sandbox of task ${taskId} is ${info.state}, not running; resume the task first`,
        { taskId, state: info.state },
      );
    }
    return info;
  }

  async readSessionOutput(
    taskId: string,
    info: SessionCommandInfo,
    maxBytes: number,
  ): Promise<SessionOutput> {
    await this.mustInspect(taskId);
    const container = this.container(taskId);
    const read = async (file: 'out' | 'err', from: number): Promise<LogRead & { size: number }> => {
      // Raw chunks, not the result's text: output may be any bytes. The log's size first, then
      // its bytes from `from` (at most maxBytes) and, if there are more, its last ones.
      const chunks: Buffer[] = [];
      const { result } = await runExec(
        this.client,
        container,
        {
          command: [
            'sh',
            '-c',
            READ_LOG_SCRIPT,
            'sh',
            `${from}`,
            `${info.sessionDir}/${file}`,
            `${maxBytes}`,
            `${LOG_TAIL_BYTES}`,
          ],
          timeoutMs: 30_000,
          outputCapBytes: 1024,
          fresh: true,
        },
        (stream, chunk) => stream === 'stdout' && chunks.push(Buffer.from(chunk)),
      );
      const buf = Buffer.concat(chunks);
      const nl = buf.indexOf(10);
      const size = nl > 0 ? Number(buf.subarray(0, nl).toString('latin1')) : NaN;
      if (result.exitCode !== 0 || result.stderr || !Number.isSafeInteger(size)) {
        throw new NotFoundError('session logs', `${info.sessionDir} in the sandbox of ${taskId}`);
      }
      const body = buf.subarray(nl + 1);
      const headLen = Math.min(Math.max(0, size - from), maxBytes);
      const head = body.subarray(0, headLen);
      if (size - from <= maxBytes) return { head, size };
      const tailStart = Math.max(from + maxBytes, size - LOG_TAIL_BYTES);
      const tail = { skipped: tailStart - from - maxBytes, data: body.subarray(headLen) };
      return { head, tail, size };
    };
    const [out, err] = await Promise.all([read('out', info.outStart), read('err', info.errStart)]);
    const logs = parseSessionLogs(info.nonce, out, err, info.pid, info.seq);
    if (logs.exitCode !== undefined) return logs;
    if (out.size < this.logMaxBytes && err.size < this.logMaxBytes) return logs;
    // A log is full: the end will never be written to it. Whether the command is over is asked
    // of the process that runs it: the wrapper that waits for a wrapped exec; for a session
    // command, its shell, a child of its leader that no longer holds the session's stdin (fd 5:
    // the leader and its idle shell do), or (records of older versions) the pid itself.
    const pid = logs.pid;
    const alive =
      pid === undefined ||
      (
        await runExec(this.client, container, {
          command: [
            'sh',
            '-c',
            info.wrapped ? 'kill -0 "$1" 2>/dev/null' : RUNS_SCRIPT,
            'sh',
            `${pid}`,
          ],
          timeoutMs: 30_000,
          outputCapBytes: 1024,
          fresh: true,
        })
      ).result.exitCode === 0;
    return { ...logs, full: this.logMaxBytes, ...(alive ? {} : { gone: true }) };
  }

  async killSessionCommand(taskId: string, info: SessionCommandInfo, pid?: number): Promise<void> {
    // A wrapped exec shares its process group with the wrapper and tees that write its end.
    await killTree(this.container(taskId), info.marker, info.wrapped ? undefined : pid);
  }

  async removeSessionLogs(taskId: string, info: SessionCommandInfo): Promise<void> {
    await this.removeDirs(taskId, [info.sessionDir]);
  }

  private async removeDirs(taskId: string, dirs: string[]): Promise<void> {
    await runExec(this.client, this.container(taskId), {
      command: ['rm', '-rf', '--', ...dirs],
      timeoutMs: 30_000,
      outputCapBytes: 4096,
      fresh: true,
    }).catch(() => undefined);
  }

  /**
   * Whether the engine saw an OOM kill in this container since `sinceMs`. The engine's events are
   * followed live (past ones since `sinceMs` first) up to the first OOM event, or for at most
   * {@link OOM_EVENT_WAIT_MS}: the kernel's kill reaches the engine as an event within
   * milliseconds, and a 137 that was no OOM (`kill -9`) waits no longer than that.
   */
  private async oomSince(containerId: string, sinceMs: number): Promise<boolean> {
    let stream: (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      stream = (await this.client.getEvents({
        since: Math.floor(sinceMs / 1000) - 1,
        filters: { container: [containerId], event: ['oom'] },
      })) as NodeJS.ReadableStream & { destroy?: () => void };
      const s = stream;
      return await new Promise<boolean>((resolve) => {
        let text = '';
        timer = setTimeout(() => resolve(false), OOM_EVENT_WAIT_MS);
        s.on('data', (c: Buffer) => {
          text += c.toString();
          // One JSON object per line; one from up to a second before `sinceMs` on counts (the
          // query's `since` has whole seconds; a remote engine's clock may be a little behind).
          for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n')) {
            const line = text.slice(0, nl);
            text = text.slice(nl + 1);
            try {
              const e = JSON.parse(line) as { timeNano?: number; time?: number };
              const ms = e.timeNano !== undefined ? e.timeNano / 1e6 : (e.time ?? 0) * 1000;
              if (ms >= sinceMs - 1000) resolve(true);
            } catch {
              // not an event line
            }
          }
        });
        s.on('error', () => resolve(false));
        s.on('end', () => resolve(false));
      });
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
      stream?.destroy?.();
    }
  }

  async readFile(taskId: string, path: string, maxBytes: number): Promise<Buffer> {
    await this.mustInspect(taskId);
    return readFileFromContainer(this.container(taskId), path, maxBytes);
  }

  async writeFile(
    taskId: string,
    path: string,
    content: Buffer,
    opts: { mode?: number } = {},
  ): Promise<void> {
    const container = this.container(taskId);
    const spec =
      (await docker(() => container.inspect(), { kind: 'sandbox', id: taskId })).Config.User ?? '';
    const owner = (await this.resolveUser(taskId, container, spec)).ids ?? ROOT_IDS;
    // Parents the engine would create root-owned, where the sandbox's user could not write.
    const dirs = owner.uid === 0 ? [] : await missingParents(container, path, WORKSPACE);
    await writeFileToContainer(container, path, content, opts.mode, owner, dirs);
  }

  async stats(taskId: string): Promise<SandboxStats> {
    const raw = await docker(() => this.container(taskId).stats({ stream: false }), {
      kind: 'sandbox',
      id: taskId,
    });
    return toSandboxStats(taskId, raw);
  }

  async close(): Promise<void> {
    // Session shells end when their stdin closes; commands they started keep running.
    this.sessions.closeAll();
    // Logs of finished wrapped execs nobody will read (bounded: a dead engine must not hold us).
    await Promise.race([
      this.logCleanup.flush(),
      new Promise<void>((r) => setTimeout(r, 2_000).unref()),
    ]);
  }

  private async ignore304(fn: () => Promise<unknown>, taskId: string): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 304) return;
      throw mapDockerError(err, { kind: 'sandbox', id: taskId });
    }
  }

  private toInfo(i: Docker.ContainerInspectInfo): SandboxInfo {
    const labels = i.Config.Labels ?? {};
    const taskId = labels[SANDBOX_LABELS.taskId] ?? '';
    const mode = i.HostConfig.NetworkMode ?? 'none';
    const running = i.State.Running;
    return {
      taskId,
      containerId: i.Id,
      name: i.Name.replace(/^\//, ''),
      image: i.Config.Image,
      state: i.State.Status as SandboxState,
      oomKilled: !!i.State.OOMKilled,
      exitCode: running ? null : i.State.ExitCode,
      createdAt: i.Created,
      startedAt: time(i.State.StartedAt),
      finishedAt: running ? undefined : time(i.State.FinishedAt),
      labels,
      network: mode.startsWith('oct-net-') ? mode : undefined,
      volume: names.volume(taskId),
      limits: {
        cpus: (i.HostConfig.NanoCpus ?? 0) / 1e9,
        memoryMb: Math.round((i.HostConfig.Memory ?? 0) / 1024 / 1024),
        pids: i.HostConfig.PidsLimit ?? 0,
      },
    };
  }
}
