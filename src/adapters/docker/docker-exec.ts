import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type Docker from 'dockerode';
import type { SandboxShell } from '../../config/sandbox-options';
import { CappedOutput } from '../../domain/capped-output';
import type { ExecOutputListener, ExecRequest, ExecResult } from '../../ports/sandbox-runtime.port';
import { docker } from './docker-errors';
import {
  WRAPPER_ENV,
  wrapperLogEnv,
  WrappedOutput,
  wrappedCmd,
  type WrapMode,
  type WrapSpec,
} from './exec-wrapper';

/** Environment marker every exec'd process (and its children) carries, so a timeout can find them all. */
export const EXEC_MARKER = 'OPENCODE_EXEC_ID';

/**
 * Docker has no "kill exec" call. Every process of a timed-out command inherited our marker, so
 * an exec of plain sh stops them all (SIGSTOP first so a forking tree cannot outrun us), then
 * kills them, and repeats until none is left. Needs /bin/sh, tr and grep in the image; when it
 * cannot run (no shell, or the pids limit is exhausted) the caller tries again or restarts the
 * container.
 */
function killScript(marker: string, pgid?: number): string {
  const match = `${EXEC_MARKER}=${marker}`;
  // A session command is a process group of its own: stopped and killed whole first, with
  // builtins only. With the pids limit used up, the forks below fail and end this script (busybox
  // sh gives up on a failed fork): the group is gone by then, and its pids free for a retry.
  const group = pgid && pgid > 1 ? `-- -${pgid}` : '';
  return [
    group ? `kill -s STOP ${group} 2>/dev/null; kill -s KILL ${group} 2>/dev/null` : ':',
    'found=1; n=0',
    'while [ "$found" = 1 ] && [ "$n" -lt 20 ]; do found=0; n=$((n+1))',
    '  for sig in STOP KILL; do for p in /proc/[0-9]*; do',
    `    if tr '\\000' '\\n' < "$p/environ" 2>/dev/null | grep -qx '${match}'; then kill -s $sig "\${p#/proc/}" 2>/dev/null; found=1; fi`,
    '  done; done',
    'done',
    // Report survivors (zero means the tree is gone).
    `left=0; for p in /proc/[0-9]*; do tr '\\000' '\\n' < "$p/environ" 2>/dev/null | grep -qx '${match}' && left=$((left+1)); done; echo $left`,
  ].join('\n');
}

export interface RawExec {
  result: ExecResult;
  /** Set when the in-container kill could not run and the container must be restarted. */
  needsRestart: boolean;
}

/** Runs one command in a running container: demuxed, capped, streamed, killed on timeout. */
export async function runExec(
  client: Docker,
  container: Docker.Container,
  req: ExecRequest,
  onOutput?: ExecOutputListener,
  /** Settles when the caller wants the command killed now (`exec_kill`). */
  killRequested?: Promise<void>,
): Promise<RawExec> {
  return (await startRawExec(client, container, req, { onOutput, killRequested })).done;
}

export interface RawExecOptions {
  onOutput?: ExecOutputListener;
  /** Settles when the caller wants the command killed now (`exec_kill`). */
  killRequested?: Promise<void>;
  /** Run through the journaling wrapper (see exec-wrapper.ts). */
  wrap?: WrapSpec;
}

export interface StartedRawExec {
  /** The command's `OPENCODE_EXEC_ID`. */
  marker: string;
  /**
   * Wrapped execs: how the wrapper runs the command, known from its start frame (`none`: the
   * exec ended without one — the wrapper never ran). Undefined for a plain exec.
   */
  mode: Promise<WrapMode | undefined>;
  done: Promise<WrappedRawExec>;
}

export interface WrappedRawExec extends RawExec {
  wrapped?: WrappedOutput;
  /** The wrapper could not start (no /bin/sh): the command did not run; run it plain. */
  noWrapper?: boolean;
}

/**
 * The argv of a shell-string command in `shell` (OPENCODE_SANDBOX_SHELL): `sh` is the image's
 * /bin/sh, `bash` is found on PATH (exit 127 where the image has none), `auto` is bash where the
 * image has it, else /bin/sh. The command is an argument, never part of a script.
 */
export function shellArgv(command: string, shell: SandboxShell): string[] {
  if (shell === 'bash') return ['bash', '-c', command];
  if (shell === 'auto') {
    return [
      '/bin/sh',
      '-c',
      'command -v bash >/dev/null 2>&1 && exec bash -c "$0"; exec /bin/sh -c "$0"',
      command,
    ];
  }
  return ['/bin/sh', '-c', command];
}

/** Starts one command; `done` settles like {@link runExec}. */
export async function startRawExec(
  client: Docker,
  container: Docker.Container,
  req: ExecRequest,
  opts: RawExecOptions = {},
): Promise<StartedRawExec> {
  const { onOutput, killRequested, wrap } = opts;
  const marker = randomUUID();
  const argv = Array.isArray(req.command) ? req.command : shellArgv(req.command.shell, 'sh');
  // Wrapped, only the command carries the marker (the wrapper sets it): a kill by marker must
  // leave the wrapper alive to write the command's end into the logs.
  const cmd = wrap ? wrappedCmd(argv, wrap, marker) : argv;
  const env = [
    ...Object.entries(req.env ?? {}).map(([k, v]) => `${k}=${v}`),
    ...(wrap ? [WRAPPER_ENV, wrapperLogEnv(wrap)] : [`${EXEC_MARKER}=${marker}`]),
  ];
  const hasStdin = req.stdin !== undefined;
  const started = Date.now();
  const exec = await docker(() =>
    container.exec({
      Cmd: cmd,
      Env: env,
      WorkingDir: req.workdir,
      AttachStdin: hasStdin,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
    }),
  );
  const stream = (await docker(() =>
    exec.start({ hijack: true, stdin: hasStdin }),
  )) as NodeJS.ReadWriteStream & { destroy(): void };
  const out = new CappedOutput(req.outputCapBytes);
  const err = new CappedOutput(req.outputCapBytes);
  const deliver = (name: 'stdout' | 'stderr', chunk: Buffer) => {
    (name === 'stdout' ? out : err).push(chunk);
    onOutput?.(name, chunk);
  };
  const wrapped = wrap ? new WrappedOutput(wrap.nonce, deliver) : undefined;
  const sink = (name: 'stdout' | 'stderr') =>
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        if (wrapped) wrapped.push(name, chunk);
        else deliver(name, chunk);
        cb();
      },
    });
  client.modem.demuxStream(stream, sink('stdout'), sink('stderr'));
  const ended = new Promise<void>((resolve) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', resolve);
  }).then(() => wrapped?.end());
  if (hasStdin) {
    stream.write(Buffer.isBuffer(req.stdin) ? req.stdin : Buffer.from(req.stdin as string));
    stream.end(); // half-close: the command sees EOF on stdin
  }
  const done = finish();
  const none = () => 'none' as const;
  return {
    marker,
    // Also settles if the exec failed before its stream ended (then: as if no frame came).
    mode: wrapped
      ? Promise.race([wrapped.modeKnown, done.then(none, none)])
      : done.then(
          () => undefined,
          () => undefined,
        ),
    done,
  };

  async function finish(): Promise<WrappedRawExec> {
    let timedOut = false;
    let needsRestart = false;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const timeout = new Promise<'timeout' | 'cancelled'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), req.timeoutMs);
      onAbort = () => resolve('cancelled');
      if (req.signal?.aborted) onAbort();
      else req.signal?.addEventListener('abort', onAbort, { once: true });
    });
    const first = await Promise.race([
      ended.then(() => 'ended' as const),
      timeout,
      ...(killRequested ? [killRequested.then(() => 'killed' as const)] : []),
    ]);
    clearTimeout(timer);
    if (onAbort) req.signal?.removeEventListener('abort', onAbort);
    const cancelled = first === 'cancelled';
    const killed = first === 'killed';
    if (first !== 'ended') {
      timedOut = first === 'timeout';
      needsRestart = !(await killTree(container, marker));
      // Wrapped, the command may not have been exec'd yet (the wrapper was still setting up, so
      // nothing carried the marker): kill again until the wrapper ends, which it does right
      // after the command.
      for (let i = 0; wrapped && !needsRestart && i < 5; i++) {
        if (await settlesWithin(ended, 200)) break;
        await killTree(container, marker);
      }
      // The attach stream ends once the process is gone; don't wait on it forever.
      const grace = new Promise<void>((r) => setTimeout(r, needsRestart ? 0 : 2000).unref());
      await Promise.race([ended, grace]);
      stream.destroy();
      wrapped?.end();
    }
    const exitCode = first !== 'ended' ? null : await exitCodeOf(exec);
    // The wrapper never printed its start frame and the engine could not start it (no /bin/sh
    // in the image: 126 or 127 and only the engine's own error text): the command did not run.
    const noWrapper =
      wrapped?.mode === 'none' && first === 'ended' && (exitCode === 126 || exitCode === 127);
    if (wrapped?.mode === 'none' && !noWrapper) {
      // Whatever it was, the caller sees what the engine said.
      const held = wrapped.held();
      if (held.stdout.length) deliver('stdout', held.stdout);
      if (held.stderr.length) deliver('stderr', held.stderr);
    }
    // A journaled command whose stream broke before its end frames while the exec runs on: it
    // goes on writing its logs, so the result is not final (whoever re-attaches finishes it).
    const detached =
      first === 'ended' &&
      exitCode === null &&
      wrapped?.mode === 'journaled' &&
      !(wrapped.outEnded && wrapped.errEnded);
    if (detached) {
      err.push(
        Buffer.from(
          '\nopencode-tools: the exec stream broke while the command ran; its exit code is unknown\n',
        ),
      );
    }
    return {
      result: {
        exitCode,
        stdout: out.toString(),
        stderr: err.toString(),
        stdoutBytes: out.total,
        stderrBytes: err.total,
        truncated: out.truncated || err.truncated,
        timedOut,
        ...(cancelled ? { cancelled } : {}),
        oomKilled: false,
        ...(killed ? { killed } : {}),
        ...(detached ? { detached } : {}),
        durationMs: Date.now() - started,
      },
      needsRestart,
      ...(wrapped ? { wrapped } : {}),
      ...(noWrapper ? { noWrapper } : {}),
    };
  }
}

async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The exec's exit code; Docker may report it a moment after the stream closes. */
async function exitCodeOf(exec: Docker.Exec): Promise<number | null> {
  for (let i = 0; i < 50; i++) {
    const info = await docker(() => exec.inspect());
    if (!info.Running) return info.ExitCode ?? null;
    await new Promise((r) => setTimeout(r, 20));
  }
  return null;
}

/**
 * True when the in-container kill ran and nothing carrying the marker is left. `pgid`: also the
 * process group (a session command's setsid group).
 */
export async function killTree(
  container: Docker.Container,
  marker: string,
  pgid?: number,
): Promise<boolean> {
  try {
    const exec = await container.exec({
      Cmd: ['/bin/sh', '-c', killScript(marker, pgid)],
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = await exec.start({ hijack: true, stdin: false });
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve) => {
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', resolve);
      setTimeout(resolve, 10_000).unref();
    });
    const info = await exec.inspect();
    // Frames carry an 8-byte header; the survivors count is the last digits printed.
    const text = Buffer.concat(chunks).toString('latin1');
    const left = /(\d+)\s*$/.exec(text)?.[1];
    return info.ExitCode === 0 && left === '0';
  } catch {
    return false;
  }
}
