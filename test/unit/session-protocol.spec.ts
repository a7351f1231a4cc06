import {
  cannotChangeState,
  CLOSE_LINE,
  commandLine,
  exportedNames,
  FrameScanner,
  oneLineQuote,
  parseSessionLogs,
  posixExports,
  shellQuote,
  type Frame,
} from '../../src/adapters/docker/session-protocol';
import type { ExecSession } from '../../src/adapters/docker/exec-session';
import { openRetryingFork } from '../../src/adapters/docker/session-pool';

const N = 'ab'.repeat(16);

function scan(chunks: Buffer[]): { data: string; frames: Frame[] } {
  let data = '';
  const frames: Frame[] = [];
  const s = new FrameScanner(
    (c) => (data += c.toString('latin1')),
    (f) => frames.push(f),
  );
  for (const c of chunks) s.push(c);
  return { data, frames };
}

describe('exec session protocol', () => {
  const stream = Buffer.from(
    `partial\x1eoct:${N}:S:42\x1eno newline\x1eoct:x\x1e` +
      `\x1eoct:${N}:V\x1eexport A='1\n2'\x1eoct:${N}:W\x1e\x1eoct:${N}:E:7\x1e\x1eoct:x:X:42:3\x1e`,
    'latin1',
  );

  it('finds frames anywhere, also split across chunks at every byte', () => {
    const whole = scan([stream]);
    expect(whole.data).toBe('partialno newline\x1eoct:x\x1e');
    expect(whole.frames).toEqual([
      { kind: 'S', nonce: N, value: 42 },
      { kind: 'V', nonce: N, text: "export A='1\n2'" },
      { kind: 'E', nonce: N, value: 7 },
      { kind: 'X', nonce: '', pid: 42, value: 3 },
    ]);
    const bytes = scan([...stream].map((b) => Buffer.from([b])));
    expect(bytes).toEqual(whole);
  });

  it('quotes any text as one single-quoted word and refuses NUL', () => {
    expect(shellQuote(`it's "x" $HOME \`y\``)).toBe(`'it'\\''s "x" $HOME \`y\`'`);
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
    expect(oneLineQuote("a\nb'c")).toBe(`'a'"$__N"'b'\\''c'`);
  });

  it("frames a request with its request line's length in bytes (for bash's read -N)", () => {
    const spec = {
      nonce: N,
      marker: 'm',
      unset: [],
      state: '',
      command: 'echo ünï',
      report: false,
    };
    for (const sourced of [true, false]) {
      const text = commandLine({ ...spec, sourced });
      const [len, request, rest] = [
        text.slice(0, text.indexOf('\n')),
        text.slice(text.indexOf('\n') + 1, text.indexOf('\n', text.indexOf('\n') + 1) + 1),
        text.slice(text.indexOf('\n', text.indexOf('\n') + 1) + 1),
      ];
      expect(request).toMatch(/^set -- '.*'\n$/);
      // Bytes, not characters: "ünï" is 3 characters and 5 bytes.
      expect(Number(len)).toBe(Buffer.byteLength(request));
      expect(Number(len)).toBe(request.length + 2);
      // Sourcing shells stop at `return`; the others read exactly the request line.
      expect(rest).toBe(sourced ? 'return\n' : '');
    }
    expect(CLOSE_LINE).toBe('10\n__oct_bye\n');
  });

  it('reads a command back from session logs by its frames', () => {
    const out = Buffer.from(
      `x\x1eoct:${N}:S:9\x1ehello\x1eoct:${N}:V\x1eexport A='1'\x1eoct:${N}:W\x1e\x1eoct:x:X:9:4\x1elater`,
    );
    const err = Buffer.from(`oops\x1eoct:x:X:9:4\x1e`);
    expect(parseSessionLogs(N, out, err)).toEqual({
      stdout: Buffer.from('xhello'),
      stderr: Buffer.from('oops'),
      exitCode: 4,
      pid: 9,
    });
    expect(
      parseSessionLogs(N, out.subarray(0, out.indexOf('hello') + 3), Buffer.from('o')),
    ).toEqual({
      stdout: Buffer.from('xhel'),
      stderr: Buffer.from('o'),
      pid: 9,
    });
  });

  it('reads a command whose pid was known before it ran (no S frame), and frames naming the next child', () => {
    // Killed: the session shell's X on both streams, naming the next child (12).
    const out = Buffer.from(`hello\x1eoct:x:X:9:137:12\x1elater`);
    const err = Buffer.from(`oops\x1eoct:x:X:9:137:12\x1e`);
    expect(parseSessionLogs(N, out, err, 9)).toEqual({
      stdout: Buffer.from('hello'),
      stderr: Buffer.from('oops'),
      exitCode: 137,
      pid: 9,
    });
    // Without the pid, an X cannot be told from another child's: no end.
    expect(parseSessionLogs(N, out, err).exitCode).toBeUndefined();
    expect(
      scan([
        Buffer.from(`\x1eoct:${N}:Z:0:12\x1e\x1eoct:${N}:Z:0:\x1e\x1eoct:${N}:E:3:41\x1e`),
        Buffer.from(`\x1eoct:x:X:9:1:12\x1e\x1eoct:x:X:9:1\x1e`),
      ]).frames,
    ).toEqual([
      { kind: 'Z', nonce: N, value: 0, next: 12 },
      { kind: 'Z', nonce: N, value: 0 },
      { kind: 'E', nonce: N, value: 3, next: 41 },
      { kind: 'X', nonce: '', pid: 9, value: 1, next: 12 },
      { kind: 'X', nonce: '', pid: 9, value: 1 },
    ]);
  });

  it("tells a leader's death for this command from one before it took it (request numbers)", () => {
    // Leader 9 died with request 4 (this command): its end.
    const mine = Buffer.from(`a\x1eoct:x:X:9:143:12:4\x1e`);
    expect(parseSessionLogs(N, mine, Buffer.from(`\x1eoct:x:X:9:143:12:4\x1e`), 9, 4)).toEqual({
      stdout: Buffer.from('a'),
      stderr: Buffer.alloc(0),
      exitCode: 143,
      pid: 9,
    });
    // Leader 9 died idle after request 3 (a late kill): request 4 went to leader 12, whose
    // end (Z) this is; the pid is the group that ran it.
    const rerouted = Buffer.from(`\x1eoct:x:X:9:137:12:3\x1eb\x1eoct:${N}:Z:0:12\x1e`);
    const err = Buffer.from(`\x1eoct:x:X:9:137:12:3\x1e\x1eoct:${N}:Z:0\x1e`);
    expect(parseSessionLogs(N, rerouted, err, 9, 4)).toEqual({
      stdout: Buffer.from('b'),
      stderr: Buffer.alloc(0),
      exitCode: 0,
      pid: 12,
    });
    // Still running there: no end, and the pid to kill is the new leader's.
    const running = parseSessionLogs(N, rerouted.subarray(0, 24), err.subarray(0, 22), 9, 4);
    expect(running).toMatchObject({ pid: 12 });
    expect(running.exitCode).toBeUndefined();
  });

  it("ends a command at its child's Z frame on both streams, before the shell's X", () => {
    const out = Buffer.from(
      `\x1eoct:${N}:S:9\x1ehi\n\x1eoct:${N}:V\x1eexport A='1'\x1eoct:${N}:W\x1e\x1eoct:${N}:Z:3\x1eafter\x1eoct:x:X:9:3\x1e`,
    );
    const err = Buffer.from(`e\x1eoct:${N}:Z:3\x1eafter`);
    expect(parseSessionLogs(N, out, err)).toEqual({
      stdout: Buffer.from('hi\n'),
      stderr: Buffer.from('e'),
      exitCode: 3,
      pid: 9,
    });
    // Another command's Z does not end this one.
    const other = 'cd'.repeat(16);
    expect(
      parseSessionLogs(N, Buffer.from(`\x1eoct:${N}:S:9\x1ea\x1eoct:${other}:Z:0\x1e`), err),
    ).toEqual({ stdout: Buffer.from('a'), stderr: Buffer.from('e'), pid: 9 });
    expect(scan([Buffer.from(`\x1eoct:${N}:Z:-1\x1e`)]).frames).toEqual([
      { kind: 'Z', nonce: N, value: -1 },
    ]);
  });

  it('finds the end of a command that wrote more than was read in the end of the log, after the gap', () => {
    const head = Buffer.from(`\x1eoct:${N}:S:9\x1efirst`);
    const out = { head, tail: { skipped: 50, data: Buffer.from(`last\x1eoct:${N}:Z:2\x1eafter`) } };
    const err = {
      head: Buffer.from('e1'),
      tail: { skipped: 7, data: Buffer.from(`e2\x1eoct:x:X:9:2\x1e`) },
    };
    expect(parseSessionLogs(N, out, err)).toEqual({
      stdout: Buffer.from('first'),
      stderr: Buffer.from('e1'),
      stdoutTail: { skipped: 50, data: Buffer.from('last') },
      stderrTail: { skipped: 7, data: Buffer.from('e2') },
      exitCode: 2,
      pid: 9,
    });
    // Still running: the tail so far, no end.
    const running = { head, tail: { skipped: 50, data: Buffer.from('so far') } };
    expect(parseSessionLogs(N, running, Buffer.from(''))).toEqual({
      stdout: Buffer.from('first'),
      stderr: Buffer.from(''),
      stdoutTail: { skipped: 50, data: Buffer.from('so far') },
      pid: 9,
    });
    // Another command's frame before this one's end: its end is in the gap, unknown; the tail
    // (another command's output) is dropped.
    const other = 'cd'.repeat(16);
    for (const later of [
      `\x1eoct:${other}:S:12\x1e`,
      `\x1eoct:${other}:Z:0\x1e`,
      '\x1eoct:x:X:12:0\x1e',
    ]) {
      const mixed = {
        head,
        tail: { skipped: 50, data: Buffer.from(`theirs${later}more\x1eoct:${N}:Z:2\x1e`) },
      };
      expect(parseSessionLogs(N, mixed, Buffer.from(''))).toEqual({
        stdout: Buffer.from('first'),
        stderr: Buffer.from(''),
        pid: 9,
      });
    }
  });

  it('skips the environment report only for commands that certainly cannot change it', () => {
    for (const c of [
      'echo hi',
      'npm test 2>&1 | tail -50',
      'git status && git diff --stat',
      'ls -la src/*.ts ~/x >/dev/null',
      'grep -rn foo src; true',
      'make -j4 all # build',
    ]) {
      expect([c, cannotChangeState(c)]).toEqual([c, true]);
    }
    for (const c of [
      'cd src',
      'true && cd /tmp',
      'echo hi\ncd /',
      'export A=1',
      'A=1',
      'PATH=/x ls',
      'unset A',
      'set -a',
      '. ./env.sh',
      'source env.sh',
      'eval x',
      'read x',
      'for i in a b; do echo x; done',
      'pushd /tmp',
      'echo $HOME',
      'echo $((X++))',
      'echo `pwd`',
      "echo 'quoted'",
      'echo "quoted"',
      'c\\d /tmp',
      '(cd /)',
      '{ cd /; }',
      'c? /tmp',
      '* x',
      'ls | [ -d x ]',
      'printf x',
      'trap x EXIT',
      'exec ls',
      'command cd /',
    ]) {
      expect([c, cannotChangeState(c)]).toEqual([c, false]);
    }
  });

  it('reads exported names from export -p text, values spanning lines', () => {
    const text = `export A='x'\nexport B='multi\nexport FAKE=1'\nexport C\nexport D='it'"'"'s'\ndeclare -x E="q\\"x"\n`;
    expect(exportedNames(text)).toEqual(['A', 'B', 'C', 'D', 'E']);
  });

  // What bash 5 prints (in POSIX mode, LANG=C) for values with control characters, quotes and
  // UTF-8 (as octal under LANG=C), copied from `export -p`.
  const BASH_EXPORTS = [
    "export A=$'a\\nb'",
    "export B=$'it\\'s\\ttab'",
    "export C=$'\\E[1m\\\\x \\001 q\"d $HOME `x`'",
    "export D=$'caf\\303\\251'",
    "export E=$'\\377\\376z'",
    "export F=$'x\\r\\v\\f\\b\\a'",
    'export G="plain \\$x \\"q\\""',
    "export H=$'a\\nb\\''",
    "export I='x $'",
  ].join('\n');

  it("reads exported names from bash's $'…' values too (a \\' inside does not end them)", () => {
    expect(exportedNames(BASH_EXPORTS)).toEqual(['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I']);
  });

  it("rewrites bash's $'…' values as single-quoted literals any POSIX shell reads", () => {
    expect(posixExports(BASH_EXPORTS).split('\n')).toEqual([
      "export A='a",
      "b'",
      "export B='it'\\''s\ttab'",
      "export C='\x1b[1m\\x \x01 q\"d $HOME `x`'",
      "export D='café'",
      // Not UTF-8: bash's form stays (bash and busybox ash read it).
      "export E=$'\\377\\376z'",
      "export F='x\r\v\f\b\x07'",
      'export G="plain \\$x \\"q\\""',
      "export H='a",
      "b'\\'''",
      "export I='x $'",
    ]);
    // The other escapes bash decodes in $'…'; an unknown one stays as written.
    expect(posixExports("export X=$'\\x41\\u00e9\\U0001F600\\cA\\c?\\q\\7'")).toBe(
      "export X='A\u00e9\u{1F600}\x01\x7f\\q\x07'",
    );
    expect(posixExports("export N=$'a\\000b'")).toBe("export N=$'a\\000b'");
    const plain = 'export A=\'x\'\nexport B="y"';
    expect(posixExports(plain)).toBe(plain);
  });
});

describe('opening a session while the sandbox cannot fork', () => {
  const session = {} as ExecSession;
  const failing = (messages: string[]) => {
    let n = 0;
    return jest.fn(async () => {
      const m = messages[n++];
      if (m) throw new Error(`the sandbox shell did not start a session (it exited): ${m}`);
      return session;
    });
  };

  it("tries again while the shell can't fork (busybox ash, dash, bash), then opens", async () => {
    const open = failing([
      "/bin/sh: can't fork: Resource temporarily unavailable",
      '/bin/sh: 1: Cannot fork',
      'bash: fork: retry: Resource temporarily unavailable',
    ]);
    await expect(openRetryingFork(open, [1, 1, 1, 1])).resolves.toBe(session);
    expect(open).toHaveBeenCalledTimes(4);
  });

  it('gives up after its pauses, and at once on any other failure', async () => {
    const stuck = failing(Array(10).fill("/bin/sh: can't fork: Resource temporarily unavailable"));
    await expect(openRetryingFork(stuck, [1, 1])).rejects.toThrow(/can't fork/);
    expect(stuck).toHaveBeenCalledTimes(3);
    const other = failing(['needs /bin/sh, mkfifo and tee']);
    await expect(openRetryingFork(other, [1, 1])).rejects.toThrow(/mkfifo/);
    expect(other).toHaveBeenCalledTimes(1);
  });
});
