import { randomUUID } from 'node:crypto';
import type Docker from 'dockerode';
import type { SandboxShell } from '../../config/sandbox-options';
import { CappedOutput } from '../../domain/capped-output';
import { randomHex } from '../../domain/ids';
import { within } from '../../domain/within';
import type {
  ExecOutputListener,
  ExecRequest,
  ExecResult,
  SessionCommandInfo,
} from '../../ports/sandbox-runtime.port';
import { demuxDockerStream } from './demux';
import { docker } from './docker-errors';
import { killTree } from './docker-exec';
import { IO_PROBE_MS, type SessionFifos, type SessionIoDirs } from './session-io';
import {
  bootstrapScript,
  cannotChangeState,
  CLOSE_LINE,
  commandLine,
  exportedNames,
  FrameScanner,
  posixExports,
  SESSION_ROOT,
  type Frame,
} from './session-protocol';

const BOOT_TIMEOUT_MS = 10_000;

/**
 * The session shell by OPENCODE_SANDBOX_SHELL. bash is started from /bin/sh, which tells the
 * bootstrap (in `__OCT_SH`) to start the commands' shells as bash too.
 */
const SESSION_SHELL_CMD: Record<SandboxShell, string[]> = {
  sh: ['/bin/sh'],
  bash: ['/bin/sh', '-c', 'export __OCT_SH=bash; exec bash'],
  auto: [
    '/bin/sh',
    '-c',
    'if command -v bash >/dev/null 2>&1; then export __OCT_SH=bash; exec bash; fi; exec /bin/sh',
  ],
};
/**
 * Runs before the session shell when the session may use FIFOs (`$1`: their path prefix in the
 * sandbox, `$2`: the session's nonce). If the stdout FIFO is there and opens, it writes `H` into
 * it and `<nonce>:1` on the attach stream, and reads the server's answer there: `f` (the server
 * read the `H`: stdin, stdout and stderr become the FIFOs) or anything else (stay on the attach
 * stream). Otherwise it says `<nonce>:0` and stays. `command exec` fails without ending the shell.
 */
const IO_PRELUDE = [
  'if [ -n "$1" ] && [ -p "$1.o" ] && { command exec 3<>"$1.o"; } 2>/dev/null; then',
  '  printf H >&3; printf \'%s:1\\n\' "$2"; IFS= read -r __oct_go || __oct_go=',
  // (fd 3 is closed only once the new writer is open: a FIFO whose last writer closed reads EOF.)
  '  if [ "$__oct_go" = f ]; then exec <"$1.i" >"$1.o" 2>"$1.e" 3>&-; else exec 3>&-; fi',
  'else printf \'%s:0\\n\' "$2"; fi',
  'unset __oct_go',
].join('\n');

/** The session's exec with the FIFO prelude: the session shell is then `exec`ed as configured. */
function ioSessionCmd(shell: SandboxShell, inside: string, nonce: string): string[] {
  const start = shell === 'sh' ? 'exec /bin/sh' : SESSION_SHELL_CMD[shell][2]!;
  return ['/bin/sh', '-c', `${IO_PRELUDE}\n${start}`, 'oct', inside, nonce];
}

/** A session that did not start: why, and what its shell said (or what it needs). */
function notStarted(why: string, said: string, shell: SandboxShell): Error {
  return new Error(
    `the sandbox shell did not start a session (${why}): ${said.trim() || 'needs /bin/sh, mkfifo and tee'}${shell === 'bash' ? ' (OPENCODE_SANDBOX_SHELL=bash needs bash in the image; auto falls back to /bin/sh)' : ''}`,
  );
}

/** How a session reaches its shell: the attach stream, or the FIFOs once switched. */
interface Channel {
  write(s: string): unknown;
  end(): unknown;
  destroy(): unknown;
}

/** The first chunk a socket reads (undefined if it ends first). */
function firstChunk(s: NodeJS.ReadableStream): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const done = (b?: Buffer) => {
      s.off('data', done);
      s.off('end', none);
      s.pause();
      resolve(b);
    };
    const none = () => done(undefined);
    s.on('data', done);
    s.once('end', none);
  });
}

export interface SessionOpenOptions {
  /** false: commands' shells read requests with `read` even where /proc exists (tests the fallback). */
  source?: boolean;
  shell?: SandboxShell;
  logMaxBytes?: number;
  /** Session FIFOs of the task's io directory (see `SessionIoDirs`); none: the attach stream. */
  io?: { dirs: SessionIoDirs; taskId: string; log?: (message: string) => void };
}

/** After a timeout kill, how long the session may take to report the end before it is replaced. */
const KILL_GRACE_MS = 2_000;
/**
 * A kill that could not finish (or not confirm that nothing carrying the command's marker is left)
 * is tried again this many times, this far apart: with the sandbox's pids limit used up (a fork
 * bomb) its first run kills the command's group and then fails to fork; the next one, with those
 * pids free, finds what left the group.
 */
const KILL_RETRIES = 5;
const KILL_RETRY_MS = 200;

/** The environment a task's commands share (the `export -p` text the last command left). */
export interface SessionState {
  text: string;
  names: Set<string>;
}

interface Running {
  nonce: string;
  /** The command's number in its session (0 for the session's start). */
  seq: number;
  out: CappedOutput;
  err: CappedOutput;
  onOutput?: ExecOutputListener;
  pid?: number;
  rc?: number;
  outEnded: boolean;
  errEnded: boolean;
  env?: string;
  done: () => void;
}

/** A command started in a session; `finished` settles when it ends (or is killed at its timeout). */
export interface SessionCommand {
  info: SessionCommandInfo;
  /** Process group id, once the session reported it. */
  pid(): number | undefined;
  finished: Promise<{ result: ExecResult; state?: SessionState }>;
  /** Kills the command's process group and marker-carrying processes now. */
  kill(): Promise<void>;
}

/**
 * One persistent shell in a sandbox: a `docker exec` of `/bin/sh` with stdin attached, speaking
 * the protocol of `session-protocol.ts`. Runs one command at a time, each in a process group
 * (setsid) that holds nothing of an earlier command, so a timeout kills that group and the session
 * lives on.
 */
export class ExecSession {
  busy = false;
  alive = true;
  /** Names the session shell exports (the baseline a task state is applied over). */
  baseNames = new Set<string>();
  shellPid = 0;
  /** The session's directory in the sandbox (`out` and `err` logs). */
  readonly dir: string;
  /** Bytes received per stream so far = the size of the `out` / `err` logs in the sandbox. */
  outBytes = 0;
  errBytes = 0;
  private hasSetsid = false;
  /**
   * The pid of the leader that takes this session's next command (its process group id with
   * setsid), as the start frame (E), the last end (Z on stdout) or a dead leader's X named it.
   */
  private leaderPid?: number;
  /** Commands sent so far (the session shell counts the requests it reads the same way). */
  private seq = 0;
  /**
   * How a command's shell reads a request: sourced from /proc (busybox ash, dash), with bash's
   * `read -N` (bash), or line by line with `read` (any other shell, or no /proc).
   */
  readMode: 'source' | 'read-n' | 'line' = 'line';
  private current?: Running;
  private stream!: Channel;
  /** The session's FIFOs, when it switched to them. */
  private fifos?: SessionFifos;
  private deathListeners: ((why: string) => void)[] = [];

  private constructor(
    private readonly container: Docker.Container,
    private readonly sid: string,
  ) {
    this.dir = `${SESSION_ROOT}/${sid}`;
  }

  /**
   * Starts the shell and waits for its first report (pid, environment, setsid). `source: false`
   * makes commands' shells read requests with `read`, as in a sandbox without /proc (for tests).
   * `shell` (OPENCODE_SANDBOX_SHELL): the session shell and its commands' shells are /bin/sh
   * (`sh`, the default), bash (`bash`; the session fails to start where the image has none), or
   * bash where the image has it, else /bin/sh (`auto`).
   */
  static async open(
    container: Docker.Container,
    opts: SessionOpenOptions = {},
  ): Promise<ExecSession> {
    const s = new ExecSession(container, randomHex());
    await s.boot(opts);
    return s;
  }

  onDeath(fn: (why: string) => void): void {
    this.deathListeners.push(fn);
  }

  private async boot(opts: SessionOpenOptions): Promise<void> {
    const shell = opts.shell ?? 'sh';
    const io = opts.io && !opts.io.dirs.broken ? opts.io : undefined;
    let fifos: SessionFifos | undefined;
    if (io) {
      try {
        fifos = await io.dirs.open(io.taskId, this.sid);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        // No `mkfifo` on this host: the same for every session, so said once and FIFOs off.
        if (e.code === 'ENOENT' && /spawn/.test(e.message)) io.dirs.broken = e.message;
        io.log?.(
          `session FIFOs unavailable, using the attach stream${io.dirs.broken ? ' from now on' : ''}: ${e.message}`,
        );
      }
    }
    let exec: Docker.Exec;
    let attach: Channel & NodeJS.ReadableStream;
    try {
      exec = await docker(() =>
        this.container.exec({
          Cmd: fifos ? ioSessionCmd(shell, fifos.inside, this.sid) : SESSION_SHELL_CMD[shell],
          AttachStdin: true,
          AttachStdout: true,
          AttachStderr: true,
          Tty: false,
        }),
      );
      attach = (await docker(() => exec.start({ hijack: true, stdin: true }))) as Channel &
        NodeJS.ReadableStream;
    } catch (err) {
      fifos?.destroy();
      throw err;
    }
    const scanner = (name: 'stdout' | 'stderr') =>
      new FrameScanner(
        (chunk) => this.onData(name, chunk),
        (f) => this.onFrame(name, f),
      );
    const out = scanner('stdout');
    const err = scanner('stderr');
    const onOut = (chunk: Buffer) => {
      this.outBytes += chunk.length;
      out.push(chunk);
    };
    const onErr = (chunk: Buffer) => {
      this.errBytes += chunk.length;
      err.push(chunk);
    };
    // Until the shell said whether the FIFOs work (`probe`), the attach stream carries only its
    // answer; then it carries the session (`attach`) or nothing more (`fifo`).
    let mode: 'probe' | 'attach' | 'fifo' = fifos ? 'probe' : 'attach';
    let answered!: (fifosOk: boolean) => void;
    const answer = new Promise<boolean>((r) => (answered = r));
    let early = '';
    let probeErr = '';
    demuxDockerStream(
      attach,
      (chunk) => {
        if (mode === 'attach') return onOut(chunk);
        if (mode === 'fifo') return;
        early += chunk.toString('latin1');
        const m = new RegExp(`${this.sid}:([01])\n`).exec(early);
        if (!m) return;
        early = early.slice(m.index + m[0].length);
        answered(m[1] === '1');
      },
      (chunk) => {
        if (mode === 'attach') onErr(chunk);
        else if (mode === 'probe' && probeErr.length < 4096) probeErr += chunk.toString();
      },
    );
    const died = (why: string) => () => mode !== 'fifo' && this.die(why);
    attach.on('end', died('the session shell exited'));
    attach.on('close', died('the session stream closed'));
    attach.on(
      'error',
      (e: Error) => mode !== 'fifo' && this.die(`session stream error: ${e.message}`),
    );

    this.stream = attach;
    if (fifos) {
      const f = fifos;
      const gone = new Promise<undefined>((r) => {
        attach.once('close', () => r(undefined));
        attach.once('end', () => r(undefined));
      });
      const opened = await within(Promise.race([answer, gone]), BOOT_TIMEOUT_MS, undefined);
      if (opened === undefined) {
        // No answer: the shell is gone (no /bin/sh?) or hung before its first line.
        f.destroy();
        const why = this.alive ? `no answer in ${BOOT_TIMEOUT_MS / 1000}s` : 'it exited';
        this.close();
        throw notStarted(why, early + probeErr, shell);
      }
      const hello = opened ? await within(firstChunk(f.stdout), IO_PROBE_MS, undefined) : undefined;
      if (hello?.[0] === 0x48) {
        // 'H': this process reads what the sandbox writes there. The shell switches its stdio to
        // the FIFOs; the attach stream ends.
        mode = 'fifo';
        attach.write('f\n');
        attach.end();
        attach.once('end', () => attach.destroy());
        if (hello.length > 1) onOut(hello.subarray(1));
        f.stdout.on('data', onOut).resume();
        f.stderr.on('data', onErr);
        f.stdout.on('end', () => this.die('the session shell exited'));
        f.stdout.on('close', () => this.die('the session stream closed'));
        f.stdin.on('error', (e: Error) => this.die(`session stream error: ${e.message}`));
        this.stream = {
          write: (s: string) => f.stdin.write(s),
          end: () => f.stdin.end(),
          destroy: () => {
            f.destroy();
            attach.destroy();
          },
        };
        this.fifos = f;
      } else {
        if (opened && io) {
          // The shell opened its FIFO but nothing arrived here: the engine's kernel is not this
          // one (a VM). FIFOs stay off in this process.
          io.dirs.broken = `no FIFO output reached this process within ${IO_PROBE_MS} ms`;
          io.log?.(
            `session FIFOs do not reach the engine's sandboxes (${io.dirs.broken}); sessions use the attach stream`,
          );
        }
        if (opened) attach.write('a\n');
        f.destroy();
        mode = 'attach';
        if (early) onOut(Buffer.from(early, 'latin1'));
      }
    }

    const { state: r, finished } = this.track(this.sid);
    this.stream.write(bootstrapScript(this.sid, this.dir, opts));
    const ok = await within(
      finished.then(() => true),
      BOOT_TIMEOUT_MS,
      false,
    );
    this.current = undefined;
    this.fifos?.unlink();
    if (!ok || r.pid === undefined || !this.alive) {
      this.close();
      throw notStarted(
        ok ? 'it exited' : `no answer in ${BOOT_TIMEOUT_MS / 1000}s`,
        r.err.toString(),
        shell,
      );
    }
    this.shellPid = r.pid;
    const rc = r.rc ?? 0;
    this.hasSetsid = (rc & 1) === 1;
    this.readMode = (rc & 2) === 2 ? 'source' : (rc & 4) === 4 ? 'read-n' : 'line';
    this.baseNames = new Set(exportedNames(r.env ?? '').filter((n) => n !== '__OCT_CWD'));
  }

  /** Starts tracking a command's frames; `finished` resolves once both streams reported its end. */
  private track(
    nonce: string,
    cap = 64 * 1024,
    onOutput?: ExecOutputListener,
    pid?: number,
    seq = 0,
  ): { state: Running; finished: Promise<void> } {
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const state: Running = {
      nonce,
      seq,
      out: new CappedOutput(cap),
      err: new CappedOutput(cap),
      onOutput,
      outEnded: false,
      errEnded: false,
      pid,
      done,
    };
    this.current = state;
    return { state, finished };
  }

  private onData(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    const c = this.current;
    if (!c) return; // output of a process left running by an earlier command, with no command to own it
    (stream === 'stdout' ? c.out : c.err).push(chunk);
    c.onOutput?.(stream, chunk);
  }

  private onFrame(stream: 'stdout' | 'stderr', f: Frame): void {
    const c = this.current;
    if (f.kind === 'X' && f.next !== undefined && f.pid === this.leaderPid) {
      // A leader died: the next command goes to the one the X names.
      this.leaderPid = f.next;
    }
    if (!c) return;
    if (f.kind === 'X') {
      if (c.pid === undefined || f.pid !== c.pid) return;
      if (f.seq !== undefined && f.seq !== c.seq) {
        // It died after an earlier command's end (a late kill), before it took this one, which
        // the session shell then sent to the next leader.
        if (f.next !== undefined && f.seq < c.seq) c.pid = f.next;
        return;
      }
    } else if (f.nonce !== c.nonce) return;
    if (f.kind === 'S') c.pid = f.value;
    else if (f.kind === 'V') c.env = posixExports(f.text);
    else {
      if (stream === 'stdout') {
        if (c.outEnded) return;
        c.rc = f.value;
        c.outEnded = true;
        if (f.next !== undefined) this.leaderPid = f.next;
      } else c.errEnded = true;
      if (c.outEnded && c.errEnded) c.done();
    }
  }

  private die(why: string): void {
    if (!this.alive) return;
    this.alive = false;
    this.current?.done();
    for (const fn of this.deathListeners) fn(why);
    // After a stream error the socket may still be open: release it.
    this.close();
  }

  /**
   * Starts a shell command with the task's state applied. `finished` gives the result and the state
   * the command left (undefined when it did not report one: killed, or it replaced its shell).
   */
  start(
    req: ExecRequest & { command: { shell: string } },
    state: SessionState | undefined,
    onOutput?: ExecOutputListener,
  ): SessionCommand {
    const nonce = randomHex();
    const marker = randomUUID();
    const started = Date.now();
    const pid = this.leaderPid;
    const seq = ++this.seq;
    const info: SessionCommandInfo = {
      sessionDir: this.dir,
      nonce,
      marker,
      outStart: this.outBytes,
      errStart: this.errBytes,
      ...(pid !== undefined ? { pid } : {}),
      seq,
    };
    const { state: r, finished } = this.track(nonce, req.outputCapBytes, onOutput, pid, seq);
    const unset = state ? [...this.baseNames].filter((n) => !state.names.has(n)) : [];
    let lost: string | undefined;
    const onDeath = (why: string) => (lost = why);
    this.deathListeners.push(onDeath);
    this.stream.write(
      commandLine({
        nonce,
        marker,
        unset,
        state: state?.text ?? '',
        workdir: req.workdir,
        env: req.env,
        command: req.command.shell,
        sourced: this.readMode === 'source',
        // The environment is reported back unless the command certainly leaves it as it was.
        report: !(cannotChangeState(req.command.shell) && !req.env && req.workdir === undefined),
        stdin:
          req.stdin === undefined
            ? undefined
            : Buffer.isBuffer(req.stdin)
              ? req.stdin
              : Buffer.from(req.stdin),
      }),
    );
    let killing: Promise<boolean> | undefined;
    const kill = () =>
      (killing ??= killTree(this.container, marker, this.hasSetsid ? r.pid : undefined));
    const settle = async () => {
      try {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          finished.then(() => false),
          new Promise<boolean>((res) => (timer = setTimeout(() => res(true), req.timeoutMs))),
        ]);
        clearTimeout(timer);
        const killed = killing !== undefined;
        if (timedOut || killed) {
          let ok = await kill();
          for (let i = 0; !ok && i < KILL_RETRIES; i++) {
            await new Promise((res) => setTimeout(res, KILL_RETRY_MS));
            killing = undefined;
            ok = await kill();
          }
          const grace = new Promise<boolean>((res) =>
            setTimeout(() => res(false), ok ? KILL_GRACE_MS : 0).unref(),
          );
          if (!(await Promise.race([finished.then(() => true), grace]))) this.close();
        }
        const stopped = timedOut || killed;
        if (lost && !stopped) {
          r.err.push(
            Buffer.from(
              `\nopencode-tools: ${lost} while the command ran; its exit code is unknown\n`,
            ),
          );
        }
        const result: ExecResult = {
          exitCode: stopped || lost || r.rc === undefined ? null : r.rc,
          stdout: r.out.toString(),
          stderr: r.err.toString(),
          stdoutBytes: r.out.total,
          stderrBytes: r.err.total,
          truncated: r.out.truncated || r.err.truncated,
          timedOut,
          oomKilled: false,
          ...(killed && !timedOut ? { killed: true } : {}),
          ...(lost && !stopped ? { detached: true } : {}),
          durationMs: Date.now() - started,
        };
        // Most commands leave the environment as they found it: then the state is the same
        // object (not parsed again, and nothing to store).
        const next =
          r.env === undefined || stopped
            ? undefined
            : r.env === state?.text
              ? state
              : { text: r.env, names: new Set(exportedNames(r.env)) };
        return { result, state: next };
      } finally {
        this.deathListeners = this.deathListeners.filter((f) => f !== onDeath);
        if (this.current === r) this.current = undefined;
      }
    };
    return {
      info,
      pid: () => r.pid,
      finished: settle(),
      kill: async () => {
        await kill();
      },
    };
  }

  /** Ends an idle shell and removes its logs. */
  retire(): void {
    if (this.alive && !this.busy) this.stream.write(CLOSE_LINE);
    this.close();
  }

  /**
   * Drops the connection (stdin EOF: the shell exits once its command is done). A running
   * command goes on and its output stays in the session's logs; its call ends now, `detached`
   * (as when the session dies), instead of waiting for an end this session can no longer report.
   */
  close(why = 'the session was closed (its sandbox stopped, restarted or removed)'): void {
    // die() tells the running command and then comes back here, no longer alive.
    if (this.alive && this.current) return this.die(why);
    this.alive = false;
    try {
      this.stream?.end();
      this.stream?.destroy();
    } catch {
      // already gone
    }
  }
}
