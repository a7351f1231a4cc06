import { cappedTee, FrameScanner, logBlocks, RS, SESSION_ROOT } from './session-protocol';

/**
 * An argv (or `fresh`) command runs as its own `docker exec`, whose output only the process that
 * started it sees. To let a restarted server re-attach, the exec runs this constant script, and
 * the command travels as positional parameters — no shell text is ever built from caller input:
 *
 *   /bin/sh -c 'eval "$__OCT_W"' oct DIR NONCE MARKER CLEAN command args…
 *
 * (the script travels in the exec's environment, `__OCT_W`, so that `ps` stays readable; it is
 * unset before anything else, so the command never sees it).
 * It removes CLEAN (logs of earlier commands whose end their server saw; removed in the
 * background), makes DIR with FIFOs `o` / `e` read by a `tee -a DIR/out` (to stdout) and a
 * `tee -a DIR/err` (to stderr), each log capped ({@link cappedTee}; `__OCT_LB` in the exec's
 * environment: the cap in 512-byte blocks), says so with a start frame on stdout (`NONCE:E:1`;
 * `NONCE:E:0` when mkfifo or tee are missing or DIR cannot be made: the command then runs
 * unjournaled), writes
 * the session logs' frames — `NONCE:S:<pid>` before the command, `x:X:<pid>:<rc>` on both FIFOs
 * after all of its output — so `parseSessionLogs` reads it back, and exits with the command's
 * status. The command runs in the foreground with the exec's stdin, working directory and
 * environment, as an exec'd program (`exec "$@"` in a subshell: never a shell builtin, as with a
 * plain exec), and only it carries the `OPENCODE_EXEC_ID` marker: a kill by marker leaves the
 * wrapper and the tees alive to write its end. Once the tees run, the wrapper's own stderr
 * (a shell's `Killed` notice for a command ended by a signal) is /dev/null.
 */
export const WRAPPER_SCRIPT = [
  `unset __OCT_W; d=$1 n=$2 m=$3 c=$4 b=\${__OCT_LB:-${logBlocks()}}; unset __OCT_LB; shift 4`,
  '[ -z "$c" ] || rm -rf -- $c >/dev/null 2>&1 &',
  'if command -v mkfifo >/dev/null 2>&1 && command -v tee >/dev/null 2>&1 && mkdir -p -- "$d" 2>/dev/null && mkfifo -- "$d/o" "$d/e" 2>/dev/null; then',
  `  ${cappedTee('"$d/o"', '-- "$d/out"', 'stdout', '"$b"')}`,
  `  ${cappedTee('"$d/e"', '-- "$d/err"', 'stderr', '"$b"')}`,
  `  printf '${RS}oct:%s:E:1${RS}' "$n"`,
  // A write-only open waits for its tee to open the FIFO (so nothing written is lost if this
  // shell ends first); a signal meanwhile (SIGCHLD of the background rm) fails it with EINTR
  // under load: open again until it succeeds.
  '  until command exec 3>"$d/o"; do :; done 2>/dev/null',
  '  until command exec 4>"$d/e"; do :; done 2>/dev/null',
  '  exec 2>/dev/null',
  `  printf '${RS}oct:%s:S:%s${RS}' "$n" "$$" >&3`,
  '  (OPENCODE_EXEC_ID=$m; export OPENCODE_EXEC_ID; exec "$@") >&3 2>&4 3>&- 4>&-',
  '  r=$?',
  `  printf '${RS}oct:x:X:%s:%s${RS}' "$$" "$r" >&3`,
  `  printf '${RS}oct:x:X:%s:%s${RS}' "$$" "$r" >&4`,
  '  exit "$r"',
  'fi',
  `printf '${RS}oct:%s:E:0${RS}' "$n"`,
  'OPENCODE_EXEC_ID=$m; export OPENCODE_EXEC_ID; exec "$@"',
].join('\n');

/** A wrapped exec's identity: where its logs go in the sandbox, and which logs to remove first. */
export interface WrapSpec {
  nonce: string;
  dir: string;
  /** Log directories of earlier wrapped commands that are no longer needed. */
  clean: string[];
  /** Largest log file per stream (`OPENCODE_EXEC_LOG_MAX`); default: the default cap ({@link logBlocks}). */
  logMaxBytes?: number;
}

/** The exec's environment entry telling the wrapper its logs' cap, in 512-byte blocks. */
export function wrapperLogEnv(w: WrapSpec): string {
  return `__OCT_LB=${logBlocks(w.logMaxBytes)}`;
}

/** The log directory of a wrapped command (`x-` keeps it apart from session directories). */
export function wrapDir(nonce: string): string {
  return `${SESSION_ROOT}/x-${nonce}`;
}

const DIR_RE = new RegExp(`^${SESSION_ROOT.replace(/\./g, '\\.')}/x-[0-9a-f]{32}$`);

/** The variable that carries {@link WRAPPER_SCRIPT} into the exec. */
export const WRAPPER_ENV = `__OCT_W=${WRAPPER_SCRIPT}`;

/** The exec's Cmd (its Env also gets {@link WRAPPER_ENV}): the argv as positional parameters. */
export function wrappedCmd(argv: string[], w: WrapSpec, marker: string): string[] {
  // CLEAN is split by the shell: only directories we made (fixed shape) may be in it.
  const clean = w.clean.filter((d) => DIR_RE.test(d)).join(' ');
  return ['/bin/sh', '-c', 'eval "$__OCT_W"', 'oct', w.dir, w.nonce, marker, clean, ...argv];
}

/** How the wrapper ran the command, from its start frame. */
export type WrapMode = 'journaled' | 'plain' | 'none';

/**
 * Demultiplexed output of a wrapped exec, turned back into the command's own bytes: the start
 * frame is checked byte for byte (it is the first thing the wrapper prints), journaled output
 * passes a {@link FrameScanner} (S and X frames removed), unjournaled output passes unchanged.
 * Until the start frame is seen, output is held: if the wrapper never started (no /bin/sh), what
 * the engine printed instead is dropped, and the command is run again without the wrapper.
 */
export class WrappedOutput {
  mode?: WrapMode;
  /** Set once the X frame arrived on both streams: the logs hold the command's whole output. */
  outEnded = false;
  errEnded = false;
  private ended = false;
  private head = Buffer.alloc(0);
  private heldErr: Buffer[] = [];
  private readonly out: FrameScanner;
  private readonly err: FrameScanner;
  private readonly frame1: Buffer;
  private readonly frame0: Buffer;
  private onMode?: (m: WrapMode) => void;
  readonly modeKnown: Promise<WrapMode>;

  constructor(
    nonce: string,
    private readonly emit: (stream: 'stdout' | 'stderr', chunk: Buffer) => void,
  ) {
    this.frame1 = Buffer.from(`${RS}oct:${nonce}:E:1${RS}`);
    this.frame0 = Buffer.from(`${RS}oct:${nonce}:E:0${RS}`);
    this.modeKnown = new Promise((r) => (this.onMode = r));
    this.out = new FrameScanner(
      (c) => this.emit('stdout', c),
      (f) => f.kind === 'X' && (this.outEnded = true),
    );
    this.err = new FrameScanner(
      (c) => this.emit('stderr', c),
      (f) => f.kind === 'X' && (this.errEnded = true),
    );
  }

  push(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    if (stream === 'stderr') {
      if (!this.mode) this.heldErr.push(Buffer.from(chunk));
      else this.pass('stderr', chunk);
      return;
    }
    if (this.mode) return this.pass('stdout', chunk);
    this.head = Buffer.concat([this.head, chunk]);
    const n = this.frame1.length;
    if (this.head.length < n) {
      if (this.frame1.subarray(0, this.head.length).equals(this.head)) return;
      if (this.frame0.subarray(0, this.head.length).equals(this.head)) return;
    }
    const first = this.head.subarray(0, n);
    // Not the start frame: the wrapper did not run (the engine's error text is held until the end).
    if (!first.equals(this.frame1) && !first.equals(this.frame0)) return;
    this.start(first.equals(this.frame1) ? 'journaled' : 'plain', this.head.subarray(n));
  }

  /** The exec's streams ended: flushes held bytes; a wrapper that never started says `none`. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.mode) {
      this.mode = 'none';
      this.onMode?.('none');
      return;
    }
    if (this.mode === 'journaled') {
      // FrameScanner holds a possible frame head at a chunk's end; one more RS releases it (an RS
      // after a frame's body that was never closed makes it data, and the RS itself stays held).
      this.out.push(Buffer.from(RS));
      this.err.push(Buffer.from(RS));
    }
  }

  /** What arrived while the wrapper never started (the engine's error text), for a last resort. */
  held(): { stdout: Buffer; stderr: Buffer } {
    return { stdout: this.head, stderr: Buffer.concat(this.heldErr) };
  }

  private start(mode: 'journaled' | 'plain', rest: Buffer): void {
    this.mode = mode;
    this.head = Buffer.alloc(0);
    if (rest.length) this.pass('stdout', rest);
    for (const c of this.heldErr) this.pass('stderr', c);
    this.heldErr = [];
    this.onMode?.(mode);
  }

  private pass(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    if (this.mode === 'journaled') (stream === 'stdout' ? this.out : this.err).push(chunk);
    else if (chunk.length) this.emit(stream, chunk);
  }
}
