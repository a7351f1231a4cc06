import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type Docker from 'dockerode';
import { CappedOutput } from '../../domain/capped-output';
import type { ExecOutputListener, ExecRequest, ExecResult } from '../../ports/sandbox-runtime.port';
import { docker } from './docker-errors';

/** Environment marker every exec'd process (and its children) carries, so a timeout can find them all. */
export const EXEC_MARKER = 'OPENCODE_EXEC_ID';

/**
 * Docker has no "kill exec" call. Every process of a timed-out command inherited our marker, so
 * an exec of plain sh stops them all (SIGSTOP first so a forking tree cannot outrun us), then
 * kills them, and repeats until none is left. Needs /bin/sh, tr and grep in the image; when it
 * cannot run (no shell, or the pids limit is exhausted) the caller restarts the container.
 */
function killScript(marker: string, pgid?: number): string {
  const match = `${EXEC_MARKER}=${marker}`;
  // A session command is a process group of its own: stop it whole first, kill it whole last.
  const group = pgid && pgid > 1 ? `-- -${pgid}` : '';
  return [
    group ? `kill -s STOP ${group} 2>/dev/null` : ':',
    'found=1; n=0',
    'while [ "$found" = 1 ] && [ "$n" -lt 20 ]; do found=0; n=$((n+1))',
    '  for sig in STOP KILL; do for p in /proc/[0-9]*; do',
    `    if tr '\\000' '\\n' < "$p/environ" 2>/dev/null | grep -qx '${match}'; then kill -s $sig "\${p#/proc/}" 2>/dev/null; found=1; fi`,
    '  done; done',
    'done',
    group ? `kill -s KILL ${group} 2>/dev/null` : ':',
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
  const marker = randomUUID();
  const cmd = Array.isArray(req.command) ? req.command : ['/bin/sh', '-c', req.command.shell];
  const env = [
    ...Object.entries(req.env ?? {}).map(([k, v]) => `${k}=${v}`),
    `${EXEC_MARKER}=${marker}`,
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
  const sink = (cap: CappedOutput, name: 'stdout' | 'stderr') =>
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        cap.push(chunk);
        onOutput?.(name, chunk);
        cb();
      },
    });
  client.modem.demuxStream(stream, sink(out, 'stdout'), sink(err, 'stderr'));
  const ended = new Promise<void>((resolve) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', resolve);
  });
  if (hasStdin) {
    stream.write(Buffer.isBuffer(req.stdin) ? req.stdin : Buffer.from(req.stdin as string));
    stream.end(); // half-close: the command sees EOF on stdin
  }

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
    // The attach stream ends once the process is gone; don't wait on it forever.
    const grace = new Promise<void>((r) => setTimeout(r, needsRestart ? 0 : 2000).unref());
    await Promise.race([ended, grace]);
    stream.destroy();
  }
  const exitCode = first !== 'ended' ? null : await exitCodeOf(exec);
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
      durationMs: Date.now() - started,
    },
    needsRestart,
  };
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
