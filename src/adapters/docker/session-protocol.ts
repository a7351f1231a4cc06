import type { SessionOutput, SessionOutputTail } from '../../ports/sandbox-runtime.port';

/**
 * The wire protocol of a persistent exec session: one long-lived `/bin/sh` (a `docker exec` with
 * stdin attached), the session shell, which keeps two leaders started ahead, each a `setsid sh`
 * (its own session and process group): the active one and a spare. A leader forks each command's
 * shell ahead (a subshell: no exec), which waits on the leader's gate; the leader stays for the
 * next command while its group holds nothing but itself after a command, and retires otherwise
 * (then the spare takes over), so a command never shares its group with a process an earlier one
 * left running, and the ~1 ms of `setsid` + `exec sh` is paid only when a leader retires or dies.
 *
 * Input: a line with the request's length in bytes, read by the session shell (which passes it
 * on to the active leader's gate with the spare's pid), then the request line, read once, by the
 * shell waiting on that gate only:
 * `set -- NONCE MARKER UNSET STATE WORKDIR ENVPRO ENVSAVE COMMAND STDIN REPORT`,
 * every value a POSIX single-quoted literal on one line ({@link oneLineQuote}: `'` becomes `'\''`,
 * a newline `'"$__N"'`; NUL is refused), evaluated by that shell, which alone then evaluates the
 * command (`eval`). Quoting instead of base64 keeps the path free of forks (a `base64 -d` would
 * cost one per value); only a `stdin` is base64 (it may be binary) and decoded in the sandbox.
 *
 * Output: data flows unchanged; frames are `RS "oct:" … RS` where RS is 0x1e: `NONCE:V` …
 * `NONCE:W` the `export -p` text a command left (written by its shell on exit, only when REPORT
 * is set: see {@link cannotChangeState}), `NONCE:Z:<rc>` its end, written by its shell on exit
 * too, or by the leader when the shell ended without its exit trap (on both streams, after
 * everything the command wrote there, so all of both streams is known to have arrived; on stdout
 * with the pid of the leader of the next command: `Z:<rc>:<pid>`), and `x:X:<pid>:<rc>:<next>:<seq>` a leader's death as the session shell saw it
 * (the end of request `seq`, which that leader took, and the leader of the next command). A
 * command's process (group) id is known before it is sent, so no frame at its start: the
 * session's start frame (`E:<f>:<pid>`) names the first leader, and each end the next. The nonce
 * is 128 random bits fresh for every command, so output cannot end a frame by accident, and
 * frames are found anywhere in a chunk (output need not end in a newline).
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
 * A leader: started by the session shell with `setsid` (a process group of its own), it forks
 * each command's shell ahead, a subshell W (no exec), and waits for it. W waits on the leader's
 * gate, reads one request from the session's stdin (fd 5), tells the leader the command's nonce
 * (marker FIFO), restores the task's environment and directory, applies the call's env and
 * workdir, evaluates the command and, on exit, reports the environment it leaves behind (V…W),
 * checks that the group holds no process the command started, and writes the command's end (Z)
 * naming the leader of the next command (this one, or the spare if the command left a process
 * behind, which must never share a group with a later command), and tells the leader which. A W
 * that ended without its exit trap (`exec`, a signal) gets its end from the leader (with its
 * status as `wait` gives it). The leader then tells the session shell `c` on its "done" FIFO and
 * forks the next W, or says `r` and exits. EOF on the gate (the session shell is gone) ends W
 * without a request, and then the leader.
 */
function leaderScript(dir: string): string {
  const q = (name: string) => shellQuote(`${dir}/${name}`);
  return [
    '__oct_dot=${__OCT_DOT-} __oct_k=${__OCT_GATE-0}; unset __OCT_BODY __OCT_DOT __OCT_GATE',
    "__N='\n'",
    `__oct_bye() { rm -rf -- ${shellQuote(dir)}; kill -s TERM "$PPID" 2>/dev/null; exit 0; }`,
    // fds: 8 the "done" FIFO, of which this leader is the only writer (the session shell opened
    // it read-write as 6 or 9 for it to inherit, then reopened it read-only), so the session
    // shell reads EOF there once the leader is gone; 9 the leader's private marker FIFO; 7 its
    // gate, read-only (the inherited read-write fds of both gates are replaced, so the gate reads
    // EOF when the session shell is gone).
    `if [ "$__oct_k" = 0 ]; then exec 8>&6; __oct_mp=${q('m0')} __oct_gp=${q('g0')}; else exec 8>&9; __oct_mp=${q('m1')} __oct_gp=${q('g1')}; fi`,
    'exec 6>&- 9<>"$__oct_mp" 7<"$__oct_gp" || exit 0',
    // The directory changes made here leave OLDPWD as the task's state has it (bash exports
    // OLDPWD: a `cd` of ours would change the state the command sees and leaves).
    '__oct_cd() { __oct_ho=${OLDPWD+x} __oct_o=${OLDPWD-}; cd -- "$1" 2>/dev/null; __oct_r=$?; if [ -n "$__oct_ho" ]; then OLDPWD=$__oct_o; else unset OLDPWD; fi; return $__oct_r; }',
    // W's exit trap: reports the environment the command leaves (when asked to).
    '__oct_save() {',
    '  __oct_rc=$?; set +eu; trap - EXIT',
    '  [ "$__oct_in" != /dev/null ] && rm -f -- "$__oct_in"',
    // bash also runs this trap when a signal ends the shell, with `$?` 0 and the command's
    // redirections (3>&- 4>&-) still in place, and then dies of the signal: then nothing is
    // reported here (the leader reports the end). busybox ash and dash (the shells that source
    // requests) do not: no check.
    '  [ "$__oct_dot" = 1 ] || { printf \'\' >&3; } 2>/dev/null || exit "$__oct_rc"',
    '  if [ -n "$__oct_rep" ]; then',
    '    eval "$__oct_es"',
    '    if [ -n "$__oct_wd" ] && [ "$PWD" = "$__oct_wdp" ]; then __oct_cd "$__oct_pcwd"; fi',
    '    unset OPENCODE_EXEC_ID; __OCT_CWD=$PWD; export __OCT_CWD',
    // bash started as bash (OPENCODE_SANDBOX_SHELL) prints `declare -x` outside POSIX mode.
    `    [ -n "\${BASH_VERSION-}" ] && set -o posix; { printf '${RS}oct:%s:V${RS}' "$__oct_n"; export -p; printf '${RS}oct:%s:W${RS}' "$__oct_n"; } >&3`,
    '  fi',
    // The end, written here before this shell exits (the leader would see it only after the
    // exit, ~0.3 ms later at the session), naming the leader of the next command: this one, or
    // the spare if the command left a process in the group; the leader learns which (marker).
    '  __oct_end "$__oct_p0"',
    '  printf \'__oct_z=1 __oct_nx=%s __oct_e=%s\\n\' "$__oct_nx" "$__oct_e" >&9',
    '  exit "$__oct_rc"',
    '}',
    // Whether this group holds no process but the leader (zombies aside). Only W and what it
    // started can be in it (after the last check, only the leader was), all started after W, so
    // with higher pids (until pids wrap around, which counts as not clean): the pids from W's on
    // to the newest are looked at, one open each when it is gone. The newest pid is read from
    // /proc/sys/kernel/ns_last_pid where `read` gets it whole (bash reads blocks; busybox and
    // dash read a byte per system call, and a sysctl file gives such a read only its first byte,
    // so their read fails here), else from the last field of /proc/loadavg; it is W's own when
    // nothing was started since (one read). More than 64 pids to look at counts as not clean.
    // `__oct_e`: the newest pid as last read (here, then by each command's end, which tells the
    // leader): the next W forked is usually the one after it (see the loop).
    '__oct_lp=/proc/sys/kernel/ns_last_pid',
    '{ read -r __oct_l <"$__oct_lp"; } 2>/dev/null || { __oct_lp=/proc/loadavg; read -r __oct_l <"$__oct_lp"; }',
    '__oct_e=${__oct_l##* }',
    // A process's stat line up to its group: its first 64 bytes where `read -n` exists.
    '__oct_rn=; { read -r -n 1 __oct_l </dev/null; } 2>/dev/null; [ $? = 1 ] && __oct_rn=1',
    '__oct_ours() {',
    '  if [ -n "$__oct_rn" ]; then read -r -n 64 __oct_l <"/proc/$1/stat" || return 1',
    '  else read -r __oct_l <"/proc/$1/stat" || return 1; fi',
    '  __oct_l=${__oct_l##*) }; set -- $__oct_l',
    '  [ $# -ge 3 ] || return 0',
    '  [ "$3" = "$$" ] && [ "$1" != Z ]',
    '}',
    '__oct_clean() {',
    '  __oct_p=$1 __oct_cn=0',
    '  while read -r __oct_l <"$__oct_lp"; do',
    '    __oct_e=${__oct_l##* }; [ "$__oct_e" = "$__oct_p" ] && return 0',
    '    [ "$__oct_e" -gt "$__oct_p" ] && [ $((__oct_e - __oct_p + __oct_cn)) -le 64 ] || return 1',
    '    while [ "$__oct_p" -lt "$__oct_e" ]; do',
    '      __oct_p=$((__oct_p + 1)) __oct_cn=$((__oct_cn + 1)); __oct_ours "$__oct_p" && return 1',
    '    done',
    '  done',
    '  return 1',
    '}',
    // A command's end (Z on both streams; stdout names the leader of the next command: this one
    // while its group is clean since pid $1, else the spare).
    '__oct_end() {',
    '  if __oct_clean "$1" 2>/dev/null; then __oct_nx=$$; else __oct_nx=$__oct_sp; fi',
    `  printf '${RS}oct:%s:Z:%s:%s${RS}' "$__oct_n" "$__oct_rc" "$__oct_nx" >&3`,
    `  printf '${RS}oct:%s:Z:%s${RS}' "$__oct_n" "$__oct_rc" >&4`,
    '}',
    // TERM and HUP sent to the leader ($$ of every command it runs: `kill $$`) are ignored, so
    // that the command goes on and reports its own end; each command's shell takes them again.
    "trap '' TERM HUP",
    'while :; do',
    '  (',
    '    exec 8>&-; set --; trap - TERM HUP',
    // The newest pid before the command: every process it starts comes after (see __oct_clean).
    // That is W's own pid when W is the process after the newest the leader knew of (two `stat`s
    // tell: /proc/self is W), else the newest pid read now (~25 one-byte reads of /proc/loadavg
    // in busybox and dash, ~50 µs).
    '    __oct_p0=$((__oct_e + 1)); [ "/proc/$__oct_p0" -ef /proc/self ] || { read -r __oct_l <"$__oct_lp" && __oct_p0=${__oct_l##* }; }',
    // The gate's line sets the request's length in bytes (for `read -N`) and the pid of the spare
    // leader, which takes the next command if this one retires. Sourced where the request is
    // (one system call; it ends with `return`), else read as a line; nothing (EOF) ends W.
    '    __oct_len= __oct_sp=',
    '    if [ "$__oct_dot" = 1 ]; then . /proc/self/fd/7',
    '    else IFS= read -r __oct_l <&7 && eval "${__oct_l%%;*}"; fi',
    '    [ -n "$__oct_sp" ] || exit 0',
    // `read` takes a pipe byte by byte (~1.5 µs a byte in busybox, ~0.5 µs and a system call a
    // byte in bash), so the request is read in blocks where the shell can:
    // - busybox ash and dash, where /proc shows fd 5 (`__oct_dot` 1): the request is sourced (`.`
    //   reads in blocks and runs what it has read; the request ends with `return`, and nothing
    //   follows it in the pipe until this command has ended);
    // - bash (n): `.` would read to the end of the pipe (it never ends), but `read -N` takes the
    //   given count in blocks: bytes, not characters, under LC_ALL=C (for this builtin only);
    // - any other shell: line by line with `read`.
    '    if [ "$__oct_dot" = 1 ]; then . /proc/self/fd/5',
    '    elif [ "$__oct_dot" = n ]; then LC_ALL=C IFS= read -r -N "$__oct_len" __oct_req <&5 && eval "$__oct_req"',
    '    else IFS= read -r __oct_req <&5 && eval "$__oct_req"; fi',
    '    [ $# -eq 10 ] || exit 0',
    // The leader writes the end under this nonce.
    '    printf \'__oct_n=%s __oct_sp=%s\\n\' "$1" "$__oct_sp" >&9',
    '    exec 5<&- 7<&-; unset __oct_req __oct_len',
    '    __oct_n=$1 __oct_c=$8 __oct_wd=$5 __oct_es=$7 __oct_rep=${10} __oct_in=/dev/null',
    '    if [ -n "$9" ]; then __oct_in=/tmp/.opencode-stdin-$1; printf %s "$9" | base64 -d >"$__oct_in"; fi',
    '    [ -n "$3" ] && unset $3',
    '    eval "$4"',
    '    if [ -n "${__OCT_CWD-}" ]; then __oct_cd "$__OCT_CWD" || printf \'opencode-tools: the session directory %s is gone; running in %s\\n\' "$__OCT_CWD" "$PWD" >&2; fi',
    '    unset __OCT_CWD',
    '    __oct_pcwd=$PWD',
    '    if [ -n "$__oct_wd" ]; then __oct_cd "$__oct_wd" || { printf \'opencode-tools: workdir %s: no such directory in the sandbox\\n\' "$__oct_wd" >&2; exit 126; }; fi',
    '    __oct_wdp=$PWD',
    '    eval "$6"',
    '    export OPENCODE_EXEC_ID="$2"',
    '    trap __oct_save EXIT',
    '    set --',
    // (W's stdin is the leader's, /dev/null: redirected only for a request's own input.)
    '    if [ "$__oct_in" = /dev/null ]; then eval "$__oct_c" 3>&- 4>&- 9>&-',
    '    else eval "$__oct_c" <"$__oct_in" 3>&- 4>&- 9>&-; fi',
    '  ) &',
    '  __oct_w=$!',
    // (bash would report a shell killed by a signal as a job, on the command's stderr.)
    '  wait "$__oct_w" 2>/dev/null; __oct_rc=$?',
    // W's nonce and the spare's pid, if it took a request, read up to an end written here (this
    // leader holds the FIFO read-write, so the read never blocks): sourced where the shell can
    // (one system call; the line W wrote and the `return` are both in the FIFO by then), else
    // read line by line up to a sentinel.
    '  __oct_n= __oct_z=',
    '  if [ "$__oct_dot" = 1 ]; then printf \'return\\n\' >&9; . /proc/self/fd/9',
    '  else printf \'s\\n\' >&9; while IFS= read -r __oct_l <&9 && [ "$__oct_l" != s ]; do eval "$__oct_l"; done; fi',
    '  [ -n "$__oct_n" ] || exit 0',
    // W ended without its exit trap (it replaced itself with `exec`, or a signal ended it): the
    // end is written here, with the status `wait` gave.
    '  [ -n "$__oct_z" ] || __oct_end "$__oct_w"',
    "  if [ \"$__oct_nx\" = $$ ]; then printf 'c\\n' >&8; else printf 'r\\n' >&8; exit 0; fi",
    'done',
  ].join('\n');
}

/** Where a session keeps its output logs in the sandbox (`out`, `err`, and its FIFOs). */
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
 * to the log fail and it goes on copying; SIGPIPE ignored too, so that once nobody reads the
 * session's output (its server died: a FIFO's reader is gone) it goes on filling the log, which a
 * restarted server reads; its own error messages are dropped. `from`, `file` and
 * `blocks` are shell words.
 */
export function cappedTee(
  from: string,
  file: string,
  to: 'stdout' | 'stderr',
  blocks: string,
): string {
  const out = to === 'stderr' ? ' >&2' : '';
  return `(ulimit -f ${blocks} 2>/dev/null; trap '' XFSZ PIPE; exec tee -a ${file} <${from}${out} 2>/dev/null) &`;
}

/**
 * Sent once when the session starts. Output goes through a relay: the shell and its commands
 * write to two FIFOs, and a `tee` per stream copies them to the session's stdout/stderr *and* to
 * `out`/`err` files in the sandbox. The files are the durable record a restarted server reads a
 * still-running command's output from (Docker drains an exec's output when no client is attached,
 * so commands never block on a dead server). fds 3 and 4 are the FIFOs, 5 the session's stdin;
 * then the shell reports its environment (V), its pid (S), how requests are read and whether
 * `setsid` exists (E), and the first leader's pid (E), and starts its loop. Nothing may be sent
 * before that report arrives.
 */
export function bootstrapScript(
  nonce: string,
  dir: string,
  /** false: commands' shells read requests with `read` even where /proc exists (tests the fallback). */
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
    `mkdir -p ${d} && mkfifo ${d}/o ${d}/e ${d}/g0 ${d}/g1 ${d}/d0 ${d}/d1 ${d}/m0 ${d}/m1 || exit 97`,
    cappedTee(`${d}/o`, `${d}/out`, 'stdout', blocks),
    cappedTee(`${d}/e`, `${d}/err`, 'stderr', blocks),
    // Read-write opens of FIFOs never block (a write-only open waits for the reader, and a signal
    // meanwhile fails it with EINTR).
    `exec 3<>${d}/o 4<>${d}/e 5<&0 7<>${d}/g0 8<>${d}/g1`,
    // This shell's own messages (bash reports a killed leader as a job) go nowhere: its leaders
    // are started with stdout and stderr on the FIFOs.
    'exec 1>&3 2>/dev/null',
    `__OCT_LEADER=${shellQuote(leaderScript(dir))}`,
    'if command -v setsid >/dev/null 2>&1; then __OCT_SETSID=setsid; else __OCT_SETSID=; fi',
    // E's payload: 1 = setsid exists, + 2 = commands' shells source the request from /proc, + 4 = they
    // read it with bash's `read -N` (see the leader).
    '__oct_f=${__OCT_SETSID:+1}; __oct_f=${__oct_f:-0}',
    opts.source === false
      ? '__OCT_DOT='
      : [
          'if [ -n "${BASH_VERSION-}" ]; then __OCT_DOT=n; __oct_f=$((__oct_f + 4))',
          'elif [ -n "${ZSH_VERSION-}${KSH_VERSION-}${YASH_VERSION-}" ]; then __OCT_DOT=',
          'elif [ -r /proc/self/fd/5 ]; then __OCT_DOT=1; __oct_f=$((__oct_f + 2)); else __OCT_DOT=; fi',
        ].join('\n'),
    // Starts the leader of slot $1 (gate g$1, "done" FIFO d$1 on fd 6 or 9): the FIFO is opened
    // read-write for the leader to inherit as its writer, then reopened read-only here (that open
    // does not block: a writer exists), so this shell reads EOF there once the leader is gone.
    // The leader's script travels in the environment, so `ps` shows `sh -c eval…`.
    '__oct_lead() {',
    `  if [ "$1" = 0 ]; then exec 6<>${d}/d0; else exec 9<>${d}/d1; fi`,
    `  __OCT_BODY=$__OCT_LEADER __OCT_DOT=$__OCT_DOT __OCT_GATE=$1 $__OCT_SETSID $__oct_sh -c 'eval "$__OCT_BODY"' oct </dev/null >&3 2>&4 &`,
    `  if [ "$1" = 0 ]; then exec 6<${d}/d0; else exec 9<${d}/d1; fi`,
    '}',
    // One function, called on the last line: the shell has read all of this script before it
    // reports (and so before any request arrives on the same stdin for a command to read).
    '__oct_main() {',
    '  __OCT_CWD=$PWD; export __OCT_CWD',
    `  { printf '%sV${RS}' ${f}; export -p; printf '%sW${RS}' ${f}; } >&3`,
    '  unset __OCT_CWD',
    // Two leaders are always started ahead: the active one (a), which takes the next request,
    // and a spare (b) that takes over when the active one retires or dies. A leader costs ~1 ms
    // of CPU to start (fork, exec setsid, exec sh); a command on a leader that stays costs only
    // the fork of a subshell. A request's first line (its length) is read here and passed on to
    // the active leader's gate, the rest by its W, so one process at a time reads the session's
    // stdin; then the leader's "done" FIFO says whether it stays (c) or retires (r); EOF there
    // means it died (`kill $$`, `kill 0`, or a timeout's kill of its group). `__oct_q` counts
    // requests: the X and A frames name the one they follow.
    '  __oct_lead 0; __oct_a=$!; __oct_lead 1; __oct_b=$!; __oct_k=0; __oct_q=0',
    // The stdout E frame also names the leader that takes the first request: every command's
    // process (group) id is known before it is sent.
    `  printf '%sS:%s${RS}%sE:%s:%s${RS}' ${f} "$$" ${f} "$__oct_f" "$__oct_a" >&3`,
    `  printf '%sE:0${RS}' ${f} >&4`,
    '  while :; do',
    '    IFS= read -r __oct_req <&5 || exit 0',
    // (W sources the gate's line: only a number may pass.)
    "    case $__oct_req in '' | *[!0-9]*) exit 0 ;; esac",
    '    __oct_q=$((__oct_q + 1))',
    '    while :; do',
    // The length line goes to the active leader's gate, with the spare's pid.
    '      __oct_gw=$((7 + __oct_k))',
    '      printf \'__oct_len=%s __oct_sp=%s; return\\n\' "$__oct_req" "$__oct_b" >&$__oct_gw',
    '      __oct_st=; IFS= read -r __oct_st <&$((6 + 3 * __oct_k))',
    '      [ "$__oct_st" = c ] && break',
    '      wait "$__oct_a"; __oct_r=$?',
    // The gate still holds the line if no W took it (the leader died idle: a kill that came
    // after its command's end): the request is still unread, and goes to the spare below. It is
    // read up to a sentinel written here (this shell holds the gate read-write, and no leader
    // reads it until the replacement below is started), so the read never blocks.
    "      printf 's\\n' >&$__oct_gw; __oct_left=",
    '      while IFS= read -r __oct_l <&$__oct_gw && [ "$__oct_l" != s ]; do __oct_left=1; done',
    // The leader died (no `r`): its group is killed (a command's processes go with their
    // leader, as `kill 0` would take them), and the end of the request it had taken reported
    // (X: the leader, its status, the leader of the next command, the request's number).
    '      if [ "$__oct_st" != r ]; then',
    '        kill -s KILL -- "-$__oct_a" 2>/dev/null',
    '        if [ -n "$__oct_left" ]; then __oct_e=$((__oct_q - 1)); else __oct_e=$__oct_q; fi',
    `        printf '${RS}oct:x:X:%s:%s:%s:%s${RS}' "$__oct_a" "$__oct_r" "$__oct_b" "$__oct_e" >&3`,
    `        printf '${RS}oct:x:X:%s:%s:%s:%s${RS}' "$__oct_a" "$__oct_r" "$__oct_b" "$__oct_e" >&4`,
    '      fi',
    // The spare takes over, and a new spare is started.
    '      __oct_lead $__oct_k; __oct_a=$__oct_b; __oct_b=$!; __oct_k=$((1 - __oct_k))',
    '      [ -n "$__oct_left" ] || break',
    '    done',
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
  /** The command's shell sources the request (E payload bit 2): it ends with `return`. */
  sourced?: boolean;
  /** Report the environment the command leaves (`V`…`W`); false only where it cannot change it. */
  report: boolean;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The request for one command: a line the session shell reads (and passes on to the
 * active leader's gate), then the request line that leader's waiting shell reads. The first line is
 * the request line's length in bytes, which that shell needs where it reads with `read -N` (bash).
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

/** Ends an idle session (the waiting command shell removes the logs and ends the session shell). */
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
  /** A session's start (stdout: `next` is the pid of the leader that takes the first command). */
  | { kind: 'E'; nonce: string; value: number; next?: number }
  /**
   * A command's end as its leader reports it: its exit status (stdout: and `next`, the pid of the
   * leader that takes the session's next command).
   */
  | { kind: 'Z'; nonce: string; value: number; next?: number }
  | { kind: 'V'; nonce: string; text: string }
  /**
   * A leader died, as the session shell saw it (no nonce: the session shell never sees one): its
   * pid and exit status, `next` as in Z, and `seq`, the number of the last request it took (its
   * command's number in the session). A wrapped exec's X has only pid and status.
   */
  | { kind: 'X'; nonce: ''; pid: number; value: number; next?: number; seq?: number };

/** A frame's optional number, when present and not empty. */
function optional(key: 'next' | 'seq', n: string | undefined): { next?: number; seq?: number } {
  return n ? { [key]: Number(n) } : {};
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
      const x = /^x:X:(\d+):(-?\d+)(?::(\d*)(?::(\d*))?)?$/.exec(body);
      const m = x ? null : /^([0-9a-f]{32}):([SEVWZ])(?::(-?\d*)(?::(\d*))?)?$/.exec(body);
      if (x) {
        this.data(buf.subarray(0, at));
        buf = buf.subarray(end + 1);
        // A leader that dies kills its group: a command's shell killed while it reported its
        // environment leaves a V without its W, whose report is dropped here.
        this.env = undefined;
        const [, pid, value, next, seq] = x as unknown as [
          string,
          string,
          string,
          string?,
          string?,
        ];
        this.onFrame({
          kind: 'X',
          nonce: '',
          pid: Number(pid),
          value: Number(value),
          ...optional('next', next),
          ...optional('seq', seq),
        });
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
        else this.onFrame({ kind: kind as 'E' | 'Z', nonce, value, ...optional('next', next) });
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
  /** A session command's number in its session (see the `X` and `A` frames). */
  seq?: number,
): SessionOutput {
  const scan = (buf: Buffer, pid: number | undefined, strict: boolean) => {
    const data: Buffer[] = [];
    let end: number | undefined;
    let foreign = false;
    const ours = (n: number | undefined) => seq === undefined || n === undefined || n === seq;
    const scanner = new FrameScanner(
      (c) => end === undefined && !foreign && data.push(Buffer.from(c)),
      (f) => {
        if (end !== undefined || foreign) return;
        if (f.kind === 'S' && f.nonce === nonce) pid = f.value;
        else if (f.kind === 'Z' && f.nonce === nonce) end = f.value;
        else if (f.kind === 'X' && pid !== undefined && f.pid === pid && ours(f.seq)) end = f.value;
        // The leader died after an earlier command's end, before it took this one: this one was
        // sent to the leader the X names next.
        else if (f.kind === 'X' && !strict && f.pid === pid && f.next !== undefined) pid = f.next;
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
