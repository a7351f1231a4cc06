import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type Docker from 'dockerode';
import { CappedOutput } from '../../domain/capped-output';
import type { ExecOutputListener, ExecRequest, ExecResult } from '../../ports/sandbox-runtime.port';
import { docker } from './docker-errors';
import { killTree } from './docker-exec';
import {
  bootstrapScript,
  commandLine,
  exportedNames,
  FrameScanner,
  stdinLine,
  type Frame,
} from './session-protocol';

const BOOT_TIMEOUT_MS = 10_000;
/** After a timeout kill, how long the session may take to report the end before it is replaced. */
const KILL_GRACE_MS = 2_000;

/** The environment a task's commands share (the `export -p` text the last command left). */
export interface SessionState {
  text: string;
  names: Set<string>;
}

interface Running {
  nonce: string;
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

/**
 * One persistent shell in a sandbox: a `docker exec` of `/bin/sh` with stdin attached, speaking
 * the protocol of `session-protocol.ts`. Runs one command at a time; each command is a child in
 * its own process group (setsid), so a timeout kills that group and the session lives on.
 */
export class ExecSession {
  busy = false;
  alive = true;
  /** Names the session shell exports (the baseline a task state is applied over). */
  baseNames = new Set<string>();
  baseState = '';
  shellPid = 0;
  private hasSetsid = false;
  private current?: Running;
  private stream!: NodeJS.ReadWriteStream & { destroy(): void };
  private deathListeners: ((why: string) => void)[] = [];

  private constructor(
    private readonly client: Docker,
    private readonly container: Docker.Container,
  ) {}

  /** Starts the shell and waits for its first report (pid, environment, setsid). */
  static async open(client: Docker, container: Docker.Container): Promise<ExecSession> {
    const s = new ExecSession(client, container);
    await s.boot();
    return s;
  }

  onDeath(fn: (why: string) => void): void {
    this.deathListeners.push(fn);
  }

  private async boot(): Promise<void> {
    const exec = await docker(() =>
      this.container.exec({
        Cmd: ['/bin/sh'],
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
      }),
    );
    this.stream = (await docker(() =>
      exec.start({ hijack: true, stdin: true }),
    )) as NodeJS.ReadWriteStream & { destroy(): void };
    const sink = (name: 'stdout' | 'stderr') => {
      const scanner = new FrameScanner(
        (chunk) => this.onData(name, chunk),
        (f) => this.onFrame(name, f),
      );
      return new Writable({
        write(chunk: Buffer, _enc, cb) {
          scanner.push(chunk);
          cb();
        },
      });
    };
    this.client.modem.demuxStream(this.stream, sink('stdout'), sink('stderr'));
    const died = (why: string) => () => this.die(why);
    this.stream.on('end', died('the session shell exited'));
    this.stream.on('close', died('the session stream closed'));
    this.stream.on('error', (e: Error) => this.die(`session stream error: ${e.message}`));

    const nonce = randomBytes(16).toString('hex');
    const run = this.track(nonce);
    this.stream.write(bootstrapScript(nonce));
    let timer: NodeJS.Timeout | undefined;
    const ok = await Promise.race([
      run.finished.then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), BOOT_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    const r = run.state;
    this.current = undefined;
    if (!ok || r.pid === undefined || !this.alive) {
      this.close();
      throw new Error(
        `the sandbox shell did not start a session (${ok ? 'it exited' : 'no answer in 10s'}): ${r.err.toString().trim() || 'no /bin/sh?'}`,
      );
    }
    this.shellPid = r.pid;
    this.hasSetsid = r.rc === 1;
    this.baseState = r.env ?? '';
    this.baseNames = new Set(exportedNames(this.baseState).filter((n) => n !== '__OCT_CWD'));
  }

  /** Starts tracking a command's frames; `finished` resolves once both streams reported its end. */
  private track(
    nonce: string,
    cap = 64 * 1024,
    onOutput?: ExecOutputListener,
  ): { state: Running; finished: Promise<void> } {
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const state: Running = {
      nonce,
      out: new CappedOutput(cap),
      err: new CappedOutput(cap),
      onOutput,
      outEnded: false,
      errEnded: false,
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
    if (!c || f.nonce !== c.nonce) return;
    if (f.kind === 'S') c.pid = f.value;
    else if (f.kind === 'V') c.env = f.text;
    else {
      if (stream === 'stdout') {
        c.rc = f.value;
        c.outEnded = true;
      } else c.errEnded = true;
      if (c.outEnded && c.errEnded) c.done();
    }
  }

  private die(why: string): void {
    if (!this.alive) return;
    this.alive = false;
    this.current?.done();
    for (const fn of this.deathListeners) fn(why);
  }

  /**
   * Runs a shell command with the task's state applied; returns the result and the state the
   * command left (undefined when it did not report one: killed, or it replaced its shell).
   */
  async run(
    req: ExecRequest & { command: { shell: string } },
    state: SessionState | undefined,
    onOutput?: ExecOutputListener,
  ): Promise<{ result: ExecResult; state?: SessionState; lost?: string }> {
    const nonce = randomBytes(16).toString('hex');
    const marker = randomUUID();
    const started = Date.now();
    const { state: r, finished } = this.track(nonce, req.outputCapBytes, onOutput);
    const unset = state ? [...this.baseNames].filter((n) => !state.names.has(n)) : [];
    const stdinPath = req.stdin !== undefined ? `/tmp/.opencode-stdin-${nonce}` : undefined;
    let lost: string | undefined;
    const onDeath = (why: string) => (lost = why);
    this.deathListeners.push(onDeath);
    try {
      if (stdinPath) {
        const data = Buffer.isBuffer(req.stdin) ? req.stdin : Buffer.from(req.stdin as string);
        this.stream.write(stdinLine(stdinPath, data));
      }
      this.stream.write(
        commandLine({
          nonce,
          marker,
          unset,
          state: state?.text ?? '',
          workdir: req.workdir,
          env: req.env,
          command: req.command.shell,
          stdinPath,
        }),
      );
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        finished.then(() => false),
        new Promise<boolean>((res) => (timer = setTimeout(() => res(true), req.timeoutMs))),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        const killed = await killTree(this.container, marker, this.hasSetsid ? r.pid : undefined);
        const grace = new Promise<boolean>((res) =>
          setTimeout(() => res(false), killed ? KILL_GRACE_MS : 0).unref(),
        );
        if (!(await Promise.race([finished.then(() => true), grace]))) {
          this.close(); // stuck: the pool replaces it
        }
      }
      const exitCode = timedOut || lost || r.rc === undefined ? null : r.rc;
      if (lost && !timedOut) {
        const note = Buffer.from(
          `\nopencode-tools: ${lost} while the command ran; its exit code is unknown\n`,
        );
        r.err.push(note);
      }
      const result: ExecResult = {
        exitCode,
        stdout: r.out.toString(),
        stderr: r.err.toString(),
        stdoutBytes: r.out.total,
        stderrBytes: r.err.total,
        truncated: r.out.truncated || r.err.truncated,
        timedOut,
        oomKilled: false,
        durationMs: Date.now() - started,
      };
      const next =
        r.env !== undefined ? { text: r.env, names: new Set(exportedNames(r.env)) } : undefined;
      return { result, state: timedOut ? undefined : next, lost };
    } finally {
      this.deathListeners = this.deathListeners.filter((f) => f !== onDeath);
      if (this.current === r) this.current = undefined;
    }
  }

  /** Ends the shell (stdin EOF) and drops the connection. Processes it started keep running. */
  close(): void {
    this.alive = false;
    try {
      this.stream?.end();
      this.stream?.destroy();
    } catch {
      // already gone
    }
  }
}
