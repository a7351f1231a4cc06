import type { SessionOutput, SessionOutputTail } from '../../ports/sandbox-runtime.port';

/**
 * The wire protocol of a persistent exec session: one long-lived `/bin/sh` (a `docker exec` with
 * stdin attached) that keeps the next two commands' child shells started ahead, each a `setsid sh`
 * (its own session and process group) waiting on its gate, so the ~1 ms of `setsid` + `exec sh`
 * is paid while idle, not while the caller waits.
 *
 * Input: a line with the request's length in bytes, read by the session shell (which then opens
 * the gate of the next child and passes the line on to it), then the request line, read once, by
 * that child only:
 * `set -- NONCE MARKER UNSET STATE WORKDIR ENVPRO ENVSAVE COMMAND STDIN REPORT`,
 * every value a POSIX single-quoted literal on one line ({@link oneLineQuote}: `'` becomes `'\''`,
 * a newline `'"$__N"'`; NUL is refused), evaluated by the child, which alone then evaluates the
 * command (`eval`). Quoting instead of base64 keeps the path free of forks (a `base64 -d` would
 * cost one per value); only a `stdin` is base64 (it may be binary) and decoded in the sandbox.
 *
 * Output: data flows unchanged; frames are `RS "oct:" … RS` where RS is 0x1e: `NONCE:V` …
 * `NONCE:W` the `export -p` text a command left (only when REPORT is set: see
 * {@link cannotChangeState}), `NONCE:Z:<rc>` its end as the child reports it on exit (on both
 * streams, after everything it wrote there, so all of both streams is known to have arrived), and
 * `x:X:<pid>:<rc>` the end as the session shell saw it (after the child is gone; the only end of
 * a command that was killed or replaced its shell with `exec`, and written only for such a
 * command: a child that wrote its Z frames then writes `z` to its gate, which the session shell
 * reads before it starts the next child, so a normal end costs no frames, relays or wakeups after
 * the command). A command's process (group) id is known before it is sent, so no frame at its
 * start: the children are started ahead, and the session's start frame (`E`) and each end (`Z` on
 * stdout, `X`) carry as a last field the pid of the child that gets the next command (`E:<f>:<pid>`,
 * `Z:<rc>:<pid>`, `X:<pid>:<rc>:<pid>`). The nonce is 128 random
 * bits fresh for every command, so output cannot end a frame by accident, and frames are found
 * anywhere in a chunk (output need not end in a newline).
 */
export const RS = '\x1e';

/** POSIX single-quoted literal. */
export function shellQuote(s: string): string {
  if (s.includes('\0')) throw new Error('a NUL byte cannot be passed to a shell');
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A single-quoted literal without a newline character (newlines come from `$__N`). */
export function oneLineQuote(s: string): string {
  return shellQuote(s).replace(/\n/g, `'"$__N"'`);
}

/**
 * The child: once its gate opens, reads one request from the session's stdin (fd 5), restores the
 * task's environment and directory, applies the call's env and workdir, evaluates the command, and
 * on exit reports the environment it leaves behind and its end. EOF on its gate (the session shell
 * is gone) ends it.
 */
function childScript(dir: string): string {
  const g = (k: 0 | 1) => shellQuote(`${dir}/g${k}`);
  return [
    '__oct_dot=${__OCT_DOT-} __oct_g=${__OCT_GATE-0}; unset __OCT_BODY __OCT_DOT __OCT_GATE',
    "__N='\n'",
    `__oct_bye() { rm -rf -- ${shellQuote(dir)}; kill -s TERM "$PPID" 2>/dev/null; exit 0; }`,
    // Our gate, read-only; the inherited read-write fds of both gates are closed, so the gate
    // reads EOF when the session shell is gone, and this child ends.
    `if [ "$__oct_g" = 0 ]; then __oct_gp=${g(0)}; else __oct_gp=${g(1)}; fi`,
    'exec 6<"$__oct_gp" || exit 0',
    'exec 7>&- 8>&-',
    // The gate's line: the request's length in bytes (for `read -N`) and the pid of the child
    // that gets the next request (this command's Z frame names it).
    "IFS=' ' read -r __oct_len __oct_nx <&6 || exit 0",
    // `read` takes a pipe byte by byte (~1.5 µs a byte in busybox, ~0.5 µs and a system call a
    // byte in bash), so the request is read in blocks where the shell can:
    // - busybox ash and dash, where /proc shows fd 5 (`__oct_dot` 1): the request is sourced (`.`
    //   reads in blocks and runs what it has read; the request ends with `return`, and nothing
    //   follows it in the pipe until this command has ended);
    // - bash (n): `.` would read to the end of the pipe (it never ends), but `read -N` takes the
    //   given count in blocks: bytes, not characters, under LC_ALL=C (for this builtin only);
    // - any other shell: line by line with `read`.
    'if [ "$__oct_dot" = 1 ]; then . /proc/self/fd/5',
    'elif [ "$__oct_dot" = n ]; then LC_ALL=C IFS= read -r -N "$__oct_len" __oct_req <&5 && eval "$__oct_req"',
    'else IFS= read -r __oct_req <&5 && eval "$__oct_req"; fi',
    'exec 5<&- 6<&-; unset __oct_req __oct_len __oct_g',
    '[ $# -eq 10 ] || exit 0',
    '__oct_n=$1 __oct_c=$8 __oct_wd=$5 __oct_es=$7 __oct_rep=${10} __oct_in=/dev/null',
    'if [ -n "$9" ]; then __oct_in=/tmp/.opencode-stdin-$1; printf %s "$9" | base64 -d >"$__oct_in"; fi',
    '[ -n "$3" ] && unset $3',
    'eval "$4"',
    // The directory changes made here leave OLDPWD as the task's state has it (bash exports
    // OLDPWD: a `cd` of ours would change the state the command sees and leaves).
    '__oct_cd() { __oct_ho=${OLDPWD+x} __oct_o=${OLDPWD-}; cd -- "$1" 2>/dev/null; __oct_r=$?; if [ -n "$__oct_ho" ]; then OLDPWD=$__oct_o; else unset OLDPWD; fi; return $__oct_r; }',
    'if [ -n "${__OCT_CWD-}" ]; then __oct_cd "$__OCT_CWD" || printf \'opencode-tools: the session directory %s is gone; running in %s\\n\' "$__OCT_CWD" "$PWD" >&2; fi',
    'unset __OCT_CWD',
    '__oct_pcwd=$PWD',
    'if [ -n "$__oct_wd" ]; then __oct_cd "$__oct_wd" || { printf \'opencode-tools: workdir %s: no such directory in the sandbox\\n\' "$__oct_wd" >&2; exit 126; }; fi',
    '__oct_wdp=$PWD',
    'eval "$6"',
    'export OPENCODE_EXEC_ID="$2"',
    '__oct_save() {',
    '  __oct_rc=$?; set +eu; trap - EXIT',
    '  [ "$__oct_in" != /dev/null ] && rm -f -- "$__oct_in"',
    // bash also runs this trap when a signal ends the shell, with `$?` 0 and the command's
    // redirections (3>&- 4>&-) still in place, and then dies of the signal. Then no end is
    // reported here: the session shell reports the real one (X, 128 + the signal's number).
    // busybox ash and dash (the shells that source requests) do not: no check, no system call.
    '  [ "$__oct_dot" = 1 ] || { printf \'\' >&3; } 2>/dev/null || exit "$__oct_rc"',
    '  eval "$__oct_es"',
    '  if [ -n "$__oct_wd" ] && [ "$PWD" = "$__oct_wdp" ]; then __oct_cd "$__oct_pcwd"; fi',
    '  unset OPENCODE_EXEC_ID; __OCT_CWD=$PWD; export __OCT_CWD',
    // bash started as bash (OPENCODE_SANDBOX_SHELL) prints `declare -x` outside POSIX mode.
    `  if [ -n "$__oct_rep" ]; then [ -n "\${BASH_VERSION-}" ] && set -o posix; { printf '${RS}oct:%s:V${RS}' "$__oct_n"; export -p; printf '${RS}oct:%s:W${RS}${RS}oct:%s:Z:%s:%s${RS}' "$__oct_n" "$__oct_n" "$__oct_rc" "$__oct_nx"; } >&3`,
    `  else printf '${RS}oct:%s:Z:%s:%s${RS}' "$__oct_n" "$__oct_rc" "$__oct_nx" >&3; fi`,
    `  printf '${RS}oct:%s:Z:%s${RS}' "$__oct_n" "$__oct_rc" >&4`,
    // Tells the session shell that both Z frames are out, so it writes no X for this end. Opened
    // read-write: a write-only open would wait forever for a reader if the session shell is gone.
    '  printf \'z\\n\' 2>/dev/null 1<>"$__oct_gp"',
    '  exit "$__oct_rc"',
    '}',
    'trap __oct_save EXIT',
    'set --',
    'eval "$__oct_c" <"$__oct_in" 3>&- 4>&-',
  ].join('\n');
}

/** Where a session keeps its output logs in the sandbox (`out`, `err`, and the two FIFOs). */
export const SESSION_ROOT = '/tmp/.opencode-sessions';

/**
 * Default of the most bytes one log file (`out` or `err` of a session or of a wrapped exec) takes
 * in the sandbox (`OPENCODE_EXEC_LOG_MAX`): a command that floods its output cannot fill the disk
 * under the container (output is copied to the log even when no server reads it). The caller
 * still gets all of it live; past this size the log keeps nothing more, the command's end
 * included (see {@link SessionOutput.full}).
 */
export const LOG_FILE_MAX_BYTES = 256 * 1024 * 1024;

/** A log cap in bytes as `ulimit -f` takes it: 512-byte blocks. */
export function logBlocks(maxBytes = LOG_FILE_MAX_BYTES): number {
  return Math.floor(maxBytes / 512);
}

/**
 * Starts a `tee` copying a FIFO to the shell's stdout (or stderr) and appending it to a log of at
 * most `blocks` × 512 bytes: a file-size limit of its own (`ulimit -f`, 512-byte blocks in every
 * POSIX shell, and in bash's POSIX mode) with SIGXFSZ ignored, so that past the limit its writes
 * to the log fail and it goes on copying; its own error messages are dropped. `from`, `file` and
 * `blocks` are shell words.
 */
export function cappedTee(
  from: string,
  file: string,
  to: 'stdout' | 'stderr',
  blocks: string,
): string {
  const out = to === 'stderr' ? ' >&2' : '';
  return `(ulimit -f ${blocks} 2>/dev/null; trap '' XFSZ; exec tee -a ${file} <${from}${out} 2>/dev/null) &`;
}

/**
 * Sent once when the session starts. Output goes through a relay: the shell and its commands
 * write to two FIFOs, and a `tee` per stream copies them to the session's stdout/stderr *and* to
 * `out`/`err` files in the sandbox. The files are the durable record a restarted server reads a
 * still-running command's output from (Docker drains an exec's output when no client is attached,
 * so commands never block on a dead server). fds 3 and 4 are the FIFOs, 5 the session's stdin;
 * then the shell reports its environment (V), its pid (S) and whether `setsid` exists (E payload
 * 1 or 0), and starts the child loop. Nothing may be sent before that report arrives.
 */
export function bootstrapScript(
  nonce: string,
  dir: string,
  /** false: children read requests with `read` even where /proc exists (tests the fallback). */
  opts: { source?: boolean; logMaxBytes?: number } = {},
): string {
  const blocks = `${logBlocks(opts.logMaxBytes)}`;
  const f = shellQuote(`${RS}oct:${nonce}:`);
  const d = shellQuote(dir);
  return [
    // The commands' shells: bash where the session shell was started as bash for them
    // (OPENCODE_SANDBOX_SHELL), else sh.
    '__oct_sh=${__OCT_SH:-sh}; unset __OCT_SH',
    // bash's `export -p` is `declare -x …` unless in POSIX mode: the state text stays POSIX.
    '[ -n "${BASH_VERSION-}" ] && set -o posix',
    `mkdir -p ${d} && mkfifo ${d}/o ${d}/e ${d}/g0 ${d}/g1 || exit 97`,
    cappedTee(`${d}/o`, `${d}/out`, 'stdout', blocks),
    cappedTee(`${d}/e`, `${d}/err`, 'stderr', blocks),
    // Read-write opens of FIFOs never block (a write-only open waits for the reader, and a signal
    // meanwhile fails it with EINTR).
    `exec 3<>${d}/o 4<>${d}/e 5<&0 7<>${d}/g0 8<>${d}/g1`,
    'exec 1>&3 2>&4',
    `__OCT_CHILD=${shellQuote(childScript(dir))}`,
    'if command -v setsid >/dev/null 2>&1; then __OCT_SETSID=setsid; else __OCT_SETSID=; fi',
    // E's payload: 1 = setsid exists, + 2 = children source the request from /proc, + 4 = they
    // read it with bash's `read -N` (see the child).
    '__oct_f=${__OCT_SETSID:+1}; __oct_f=${__oct_f:-0}',
    opts.source === false
      ? '__OCT_DOT='
      : [
          'if [ -n "${BASH_VERSION-}" ]; then __OCT_DOT=n; __oct_f=$((__oct_f + 4))',
          'elif [ -n "${ZSH_VERSION-}${KSH_VERSION-}${YASH_VERSION-}" ]; then __OCT_DOT=',
          'elif [ -r /proc/self/fd/5 ]; then __OCT_DOT=1; __oct_f=$((__oct_f + 2)); else __OCT_DOT=; fi',
        ].join('\n'),
    // One function, called on the last line: the shell has read all of this script before it
    // reports (and so before any request arrives on the same stdin for a child to read).
    '__oct_main() {',
    '  __OCT_CWD=$PWD; export __OCT_CWD',
    `  { printf '%sV${RS}' ${f}; export -p; printf '%sW${RS}' ${f}; } >&3`,
    '  unset __OCT_CWD',
    // Two children are always started ahead, each waiting on its gate (FIFO g0 or g1, which
    // only this shell holds open for writing): a child costs ~1 ms of CPU to start (fork, exec
    // setsid, exec sh), and started two commands ahead it is ready however fast requests follow
    // each other. A request's first line (its length) is read here, the rest by the child whose
    // gate it opens, so one process at a time reads the session's stdin. When that child ends,
    // its end is reported and the one after next started. The child's script travels in the
    // environment, so `ps` shows `sh -c eval…`.
    `  __oct_spawn() { __OCT_BODY=$__OCT_CHILD __OCT_DOT=$__OCT_DOT __OCT_GATE=$1 $__OCT_SETSID $__oct_sh -c 'eval "$__OCT_BODY"' oct </dev/null >&3 2>&4 & }`,
    '  __oct_spawn 0; __oct_a=$!; __oct_spawn 1; __oct_b=$!; __oct_k=0',
    // The stdout E frame also names the child that gets the first request: every command's
    // process (group) id is known before it is sent.
    `  printf '%sS:%s${RS}%sE:%s:%s${RS}' ${f} "$$" ${f} "$__oct_f" "$__oct_a" >&3`,
    `  printf '%sE:0${RS}' ${f} >&4`,
    '  while :; do',
    '    IFS= read -r __oct_req <&5 || exit 0',
    // The gate of the child this request goes to: fd 7 (g0) or 8 (g1). The line read here (the
    // request's length) is passed on to it, with the pid of the child that gets the next one.
    '    __oct_gw=$((7 + __oct_k)); printf \'%s %s\\n\' "$__oct_req" "$__oct_b" >&$__oct_gw',
    '    wait "$__oct_a"; __oct_r=$?',
    // Did the child report its end? It wrote `z` to its gate after its Z frames if so. The gate
    // is read up to a sentinel written here (this shell holds it read-write, and no child reads
    // it until the replacement below is started), so the read never blocks.
    "    __oct_z=; printf 's\\n' >&$__oct_gw",
    '    while IFS= read -r __oct_l <&$__oct_gw && [ "$__oct_l" != s ]; do [ "$__oct_l" = z ] && __oct_z=1; done',
    '    if [ -z "$__oct_z" ]; then',
    `      printf '${RS}oct:x:X:%s:%s:%s${RS}' "$__oct_a" "$__oct_r" "$__oct_b" >&3`,
    `      printf '${RS}oct:x:X:%s:%s:%s${RS}' "$__oct_a" "$__oct_r" "$__oct_b" >&4`,
    '    fi',
    '    __oct_spawn $__oct_k; __oct_a=$__oct_b; __oct_b=$!; __oct_k=$((1 - __oct_k))',
    '  done',
    '}',
    '__oct_main',
    '',
  ].join('\n');
}

export interface CommandSpec {
  nonce: string;
  marker: string;
  /** Exported names of the session shell that the task state no longer has. */
  unset: string[];
  /** The task's environment as `export -p` text (empty on the first command). */
  state: string;
  workdir?: string;
  env?: Record<string, string>;
  command: string;
  stdin?: Buffer;
  /** The child sources the request (E payload bit 2): it ends with `return`. */
  sourced?: boolean;
  /** Report the environment the command leaves (`V`…`W`); false only where it cannot change it. */
  report: boolean;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The request for one command: a line the session shell reads (its signal to open the next
 * child's gate), then the request line that child reads. The first line is the request line's
 * length in bytes, which the child needs where it reads with `read -N` (bash).
 */
export function commandLine(c: CommandSpec): string {
  const env = Object.entries(c.env ?? {});
  for (const [k] of env) {
    if (!NAME.test(k) || k.startsWith('__oct_') || k.startsWith('__OCT_')) {
      throw new Error(`invalid environment variable name '${k}'`);
    }
  }
  // Call env applies to this command only: restored after it unless the command changed it.
  const pro = env
    .map(
      ([k, v]) => `__oct_h_${k}=\${${k}+x}; __oct_o_${k}=\${${k}-}; export ${k}=${shellQuote(v)}`,
    )
    .join('\n');
  const save = env
    .map(
      ([k, v]) =>
        `if [ "\${${k}-}" = ${shellQuote(v)} ]; then if [ -n "$__oct_h_${k}" ]; then ${k}=$__oct_o_${k}; else unset ${k}; fi; fi`,
    )
    .join('\n');
  const args = [
    c.nonce,
    c.marker,
    c.unset.filter((n) => NAME.test(n)).join(' '),
    c.state,
    c.workdir ?? '',
    pro,
    save,
    c.command,
    c.stdin ? c.stdin.toString('base64') : '',
    c.report ? '1' : '',
  ];
  return framed(`set -- ${args.map(oneLineQuote).join(' ')}\n`, c.sourced === true);
}

/** Only these characters: words, paths, options, globs, pipes, lists and redirections. */
const PLAIN = /^[A-Za-z0-9_\s./,:@%+*?[\]~^|&;<>#-]*$/;
/** Words that could change the shell's directory or variables (or run code that does). */
const STATEFUL = new Set(
  (
    'cd pushd popd export unset set readonly declare typeset local read getopts for select ' +
    'mapfile readarray printf let eval source exec command builtin enable trap wait fc coproc ' +
    'alias unalias shopt hash'
  ).split(' '),
);

/**
 * True when a shell command certainly leaves the session's directory and exported variables as
 * they were, so its end need not report them (one `export -p` and its frames fewer per command).
 * Deliberately narrow: only plain words, paths, options, globs, pipes and redirections (no `=`,
 * no expansion, quoting or escape that could build a word, no parentheses or braces, no glob as a
 * command's name) and none of the builtins that change or may change the shell's state (a `.`
 * word sources a file). Anything else reports, as every command did before.
 * @example cannotChangeState('npm test 2>&1 | tail -50') // true
 * @example cannotChangeState('cd src && npm test') // false
 */
export function cannotChangeState(command: string): boolean {
  if (!PLAIN.test(command)) return false;
  for (const w of command.split(/[\s|&;<>]+/)) {
    if (w === '.' || STATEFUL.has(w)) return false;
  }
  // A glob or redirection in command position could become a builtin's name (`c?` next to a
  // file named `cd`): only arguments may have them.
  for (const simple of command.split(/[|&;\n]+/)) {
    const name = simple.trim().split(/\s+/)[0] ?? '';
    if (/[*?[<>~]/.test(name)) return false;
  }
  return true;
}

/** A request as the session reads it: its length in bytes first (see {@link commandLine}). */
function framed(request: string, sourced: boolean): string {
  return `${Buffer.byteLength(request)}\n${request}${sourced ? 'return\n' : ''}`;
}

/** Ends an idle session (its waiting child removes the logs and ends the shell). */
export const CLOSE_LINE = framed('__oct_bye\n', false);

/**
 * Where the quoted or escaped part of a word that starts at `i` ends: `'…'`, `"…"` (backslash
 * escapes), bash's `$'…'` (backslash escapes) or one backslash-escaped character; `i + 1` for
 * any other character.
 */
function wordPartEnd(text: string, i: number): number {
  const n = text.length;
  const ch = text[i];
  if (ch === "'") {
    const end = text.indexOf("'", i + 1);
    return end < 0 ? n : end + 1;
  }
  if (ch === '"' || (ch === '$' && text[i + 1] === "'")) {
    const close = ch === '"' ? '"' : "'";
    let j = ch === '"' ? i + 1 : i + 2;
    while (j < n && text[j] !== close) j += text[j] === '\\' ? 2 : 1;
    return Math.min(n, j + 1);
  }
  return ch === '\\' ? i + 2 : i + 1;
}

/**
 * Names exported by `export -p` text as busybox ash, dash and bash print it (`export NAME='v'`,
 * `export NAME="v"`, `export NAME=$'v'`, `declare -x NAME=...`, or a bare `export NAME`). Values
 * may span lines, so this tokenizes quotes instead of splitting lines.
 */
export function exportedNames(text: string): string[] {
  const names: string[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && /\s/.test(text[i]!)) i++;
    const rest = text.slice(i, i + 12);
    if (rest.startsWith('export ')) i += 7;
    else if (rest.startsWith('declare -x ')) i += 11;
    else {
      // Not a declaration: skip the line.
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (text.startsWith('-- ', i)) i += 3;
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i, i + 256));
    if (!m) continue;
    names.push(m[0]);
    i += m[0].length;
    if (text[i] !== '=') continue;
    i++;
    while (i < n && !/\s/.test(text[i]!)) i = wordPartEnd(text, i);
  }
  return names;
}

const ANSI_C: Record<string, number> = {
  a: 7,
  b: 8,
  e: 27,
  E: 27,
  f: 12,
  n: 10,
  r: 13,
  t: 9,
  v: 11,
  '\\': 92,
  "'": 39,
  '"': 34,
  '?': 63,
};

/**
 * The bytes a bash `$'…'` body stands for (the text between the quotes), as bash decodes it:
 * the letter escapes, `\NNN` octal, `\xHH`, `\uHHHH`, `\UHHHHHHHH` and `\cX`; an unknown escape
 * stays as written.
 */
function ansiCBytes(body: string): Buffer {
  const out: Buffer[] = [];
  let plain = '';
  const flush = () => {
    if (plain) out.push(Buffer.from(plain, 'utf8'));
    plain = '';
  };
  const byte = (b: number) => {
    flush();
    out.push(Buffer.from([b & 0xff]));
  };
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch !== '\\' || i + 1 >= body.length) {
      plain += ch;
      continue;
    }
    const e = body[++i]!;
    let m: RegExpExecArray | null;
    if (ANSI_C[e] !== undefined) byte(ANSI_C[e]);
    else if ((m = /^[0-7]{1,3}/.exec(body.slice(i, i + 3)))) {
      byte(parseInt(m[0], 8));
      i += m[0].length - 1;
    } else if (e === 'x' && (m = /^[0-9a-fA-F]{1,2}/.exec(body.slice(i + 1, i + 3)))) {
      byte(parseInt(m[0], 16));
      i += m[0].length;
    } else if (
      (e === 'u' || e === 'U') &&
      (m = /^[0-9a-fA-F]+/.exec(body.slice(i + 1, i + 1 + (e === 'u' ? 4 : 8))))
    ) {
      const cp = parseInt(m[0], 16);
      plain += cp <= 0x10ffff ? String.fromCodePoint(cp) : `\\${e}${m[0]}`;
      i += m[0].length;
    } else if (e === 'c' && i + 1 < body.length) {
      const c = body[++i]!;
      byte(c === '?' ? 0x7f : c.charCodeAt(0) & 0x1f);
    } else plain += `\\${e}`;
  }
  flush();
  return Buffer.concat(out);
}

/**
 * `export -p` text with bash's ANSI-C quoted values (`$'a\nb'`: bash prints those for values that
 * hold a control character, in POSIX mode too) written as POSIX single-quoted literals, which
 * every POSIX shell reads the same: dash reads `$'…'` as a `$` and backslash escapes, so without
 * this a task moved from bash to dash would get such values changed. A value whose bytes are not
 * UTF-8 (or hold a NUL) keeps bash's form, which bash and busybox ash read.
 * @example posixExports("export A=$'a\\tb'") // "export A='a<TAB>b'"
 */
export function posixExports(text: string): string {
  if (!text.includes("$'")) return text;
  let out = '';
  let i = 0;
  const n = text.length;
  while (i < n) {
    const end = wordPartEnd(text, i);
    if (text[i] === '$' && text[i + 1] === "'" && text[end - 1] === "'" && end - i >= 3) {
      const bytes = ansiCBytes(text.slice(i + 2, end - 1));
      const value = bytes.toString('utf8');
      out +=
        !bytes.includes(0) && Buffer.from(value, 'utf8').equals(bytes)
          ? shellQuote(value)
          : text.slice(i, end);
    } else out += text.slice(i, end);
    i = end;
  }
  return out;
}

export type Frame =
  | { kind: 'S'; nonce: string; value: number }
  /** A session's start (stdout: `next` is the pid of the child that gets the first command). */
  | { kind: 'E'; nonce: string; value: number; next?: number }
  /**
   * A command's end as its child reports it on exit: its exit status (stdout: and `next`, the pid
   * of the child that gets the session's next command).
   */
  | { kind: 'Z'; nonce: string; value: number; next?: number }
  | { kind: 'V'; nonce: string; text: string }
  /**
   * A child ended: its pid and exit status (no nonce: the session shell never sees one); `next`
   * as in Z (a wrapped exec's X has none).
   */
  | { kind: 'X'; nonce: ''; pid: number; value: number; next?: number };

/** A frame's optional last number (`next`), when present and not empty. */
function nextOf(n: string | undefined): { next?: number } {
  return n ? { next: Number(n) } : {};
}

/**
 * Splits one output stream into data and frames. Data is passed on as it arrives, except the few
 * bytes at the end of a chunk that could be the start of a frame (held until the next chunk).
 */
export class FrameScanner {
  private pending = Buffer.alloc(0);
  private env?: Buffer[];
  private envNonce = '';
  private static readonly HEAD = Buffer.from(`${RS}oct:`);
  /** Longest frame: head, 32-hex nonce, kind and a number. */
  private static readonly MAX_FRAME = 80;

  constructor(
    private readonly onData: (chunk: Buffer) => void,
    private readonly onFrame: (f: Frame) => void,
  ) {}

  push(chunk: Buffer): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    for (;;) {
      const at = buf.indexOf(FrameScanner.HEAD);
      if (at < 0) {
        const keep = this.partialHead(buf);
        this.data(buf.subarray(0, buf.length - keep));
        if (keep) this.pending = Buffer.from(buf.subarray(buf.length - keep));
        return;
      }
      const end = buf.indexOf(RS, at + 1);
      if (end < 0 && buf.length - at > FrameScanner.MAX_FRAME) {
        // Too long to be a frame: it is data.
        this.data(buf.subarray(0, at + 1));
        buf = buf.subarray(at + 1);
        continue;
      }
      if (end < 0) {
        this.data(buf.subarray(0, at));
        this.pending = Buffer.from(buf.subarray(at));
        return;
      }
      const body = buf.subarray(at + FrameScanner.HEAD.length, end).toString('latin1');
      const x = /^x:X:(\d+):(-?\d+)(?::(\d*))?$/.exec(body);
      const m = x ? null : /^([0-9a-f]{32}):([SEVWZ])(?::(-?\d*)(?::(\d*))?)?$/.exec(body);
      if (x) {
        this.data(buf.subarray(0, at));
        buf = buf.subarray(end + 1);
        if (!this.env) {
          this.onFrame({
            kind: 'X',
            nonce: '',
            pid: Number(x[1]),
            value: Number(x[2]),
            ...nextOf(x[3]),
          });
        }
        continue;
      }
      if (!m) {
        // Looked like a frame but is not one of ours: it is data.
        this.data(buf.subarray(0, at + 1));
        buf = buf.subarray(at + 1);
        continue;
      }
      this.data(buf.subarray(0, at));
      buf = buf.subarray(end + 1);
      const [, nonce, kind, payload, next] = m as unknown as [
        string,
        string,
        string,
        string?,
        string?,
      ];
      if (kind === 'V') {
        this.env = [];
        this.envNonce = nonce;
      } else if (kind === 'W') {
        if (this.env && this.envNonce === nonce) {
          this.onFrame({ kind: 'V', nonce, text: Buffer.concat(this.env).toString('utf8') });
        }
        this.env = undefined;
      } else {
        const value = Number(payload ?? '');
        if (kind === 'S') this.onFrame({ kind, nonce, value });
        else this.onFrame({ kind: kind as 'E' | 'Z', nonce, value, ...nextOf(next) });
      }
    }
  }

  private data(b: Buffer): void {
    if (!b.length) return;
    if (this.env) this.env.push(Buffer.from(b));
    else this.onData(b);
  }

  /** Length of the longest suffix of `buf` that could begin a frame. */
  private partialHead(buf: Buffer): number {
    const head = FrameScanner.HEAD;
    for (let k = Math.min(head.length - 1, buf.length); k > 0; k--) {
      if (buf.subarray(buf.length - k).equals(head.subarray(0, k))) return k;
    }
    return 0;
  }
}

/**
 * One stream of a session log as read back for a command: its first bytes (from where it
 * started) and, when it wrote more than was read, the end of the log after a gap of `skipped`
 * bytes.
 */
export interface LogRead {
  head: Buffer;
  tail?: SessionOutputTail;
}

/**
 * A command's output and end read back from a session's `out` / `err` logs (from the offsets where
 * it started): the data up to its end frame, minus frames. Past a gap the end of the log is
 * searched for its end; if a frame of another command comes first there, its end lies in the gap
 * and stays unknown (the tail is dropped). The gap holds only output: a command's frames are at its
 * end (and, for a wrapped exec or a session command of an older version, `S` at its start).
 */
export function parseSessionLogs(
  nonce: string,
  out: Buffer | LogRead,
  err: Buffer | LogRead,
  /** The command's pid when known before it ran (a session command; a wrapped exec names it in S). */
  pid?: number,
): SessionOutput {
  const scan = (buf: Buffer, pid: number | undefined, strict: boolean) => {
    const data: Buffer[] = [];
    let end: number | undefined;
    let foreign = false;
    const scanner = new FrameScanner(
      (c) => end === undefined && !foreign && data.push(Buffer.from(c)),
      (f) => {
        if (end !== undefined || foreign) return;
        if (f.kind === 'S' && f.nonce === nonce) pid = f.value;
        else if (f.kind === 'Z' && f.nonce === nonce) end = f.value;
        else if (f.kind === 'X' && pid !== undefined && f.pid === pid) end = f.value;
        else if (strict && (f.kind === 'X' || f.nonce !== nonce)) foreign = true;
      },
    );
    scanner.push(buf);
    return { data: Buffer.concat(data), end, pid, foreign };
  };
  const read = (part: Buffer | LogRead, known?: number) => {
    const { head, tail } = Buffer.isBuffer(part) ? { head: part, tail: undefined } : part;
    const h = scan(head, known, false);
    if (h.end !== undefined || !tail) return { ...h, tail: undefined };
    const t = scan(tail.data, h.pid, true);
    if (t.foreign) return { ...h, tail: undefined };
    return { ...h, end: t.end, tail: { skipped: tail.skipped, data: t.data } };
  };
  const o = read(out, pid);
  // stderr has no S frame: its end is its Z frame, or the X frame of the pid stdout named.
  const e = read(err, o.pid);
  const ended = o.end !== undefined && e.end !== undefined;
  return {
    stdout: o.data,
    stderr: e.data,
    ...(o.tail ? { stdoutTail: o.tail } : {}),
    ...(e.tail ? { stderrTail: e.tail } : {}),
    ...(ended ? { exitCode: o.end } : {}),
    ...(o.pid !== undefined ? { pid: o.pid } : {}),
  };
}
