import { EventEmitter } from 'node:events';
import type Docker from 'dockerode';
import { ExecSession } from '../../src/adapters/docker/exec-session';

const RS = '\x1e';

/** One frame of Docker's multiplexed stream: type (1 stdout, 2 stderr), 3 zero bytes, length. */
function muxed(type: 1 | 2, text: string): Buffer {
  const body = Buffer.from(text, 'latin1');
  const head = Buffer.alloc(8);
  head[0] = type;
  head.writeUInt32BE(body.length, 4);
  return Buffer.concat([head, body]);
}

/**
 * A session over a scripted stream (no engine): what the test sends to `out` / `err` is what the
 * stdout / stderr of the session shell would carry, multiplexed as the engine does, in exactly
 * that order (each send is one chunk; `split` cuts it in two at every byte position).
 */
function fakeSession() {
  const written: string[] = [];
  let onWrite: (text: string) => void = () => undefined;
  const stream = Object.assign(new EventEmitter(), {
    write(data: string) {
      written.push(data);
      onWrite(data);
      return true;
    },
    end: () => undefined,
    destroy: () => undefined,
  });
  const container = {
    exec: async () => ({ start: async () => stream }),
  } as unknown as Docker.Container;
  const send = (to: 'out' | 'err', text: string) =>
    stream.emit('data', muxed(to === 'out' ? 1 : 2, text));
  return {
    written,
    send,
    stream,
    open: () => {
      // Boot: answer the bootstrap with the session shell's report (pid 7, setsid + /proc, the
      // first command's child: pid 41).
      onWrite = (text) => {
        const sid = /oct:([0-9a-f]{32}):/.exec(text)![1]!;
        onWrite = () => undefined;
        queueMicrotask(() => {
          send('out', `${RS}oct:${sid}:V${RS}export HOME='/root'\n${RS}oct:${sid}:W${RS}`);
          send('out', `${RS}oct:${sid}:S:7${RS}${RS}oct:${sid}:E:3:41${RS}`);
          send('err', `${RS}oct:${sid}:E:0${RS}`);
        });
      };
      return ExecSession.open(container);
    },
  };
}

describe('exec session frames (scripted stream)', () => {
  it("knows each command's leader before it runs: from the start, then from each end", async () => {
    const f = fakeSession();
    const s = await f.open();
    const run = async (shell: string, end: (nonce: string, seq: number) => void) => {
      const cmd = s.start(
        { command: { shell }, timeoutMs: 5_000, outputCapBytes: 1024 },
        undefined,
      );
      const pid = cmd.pid();
      expect(cmd.info.pid).toBe(pid);
      end(/set -- '([0-9a-f]{32})'/.exec(f.written.at(-1)!)![1]!, cmd.info.seq!);
      return { pid, seq: cmd.info.seq, result: (await cmd.finished).result, live: cmd.pid() };
    };
    // The leader stays (its end names itself) ...
    const first = await run('echo hi', (n) => {
      f.send('out', `hi\n${RS}oct:${n}:Z:0:41${RS}`);
      f.send('err', `${RS}oct:${n}:Z:0${RS}`);
    });
    expect(first).toMatchObject({ pid: 41, seq: 1, result: { exitCode: 0, stdout: 'hi\n' } });
    // ... or retires (the command left a process behind): the end names the spare.
    const second = await run('sleep 9 &', (n) => {
      f.send('out', `${RS}oct:${n}:Z:0:42${RS}`);
      f.send('err', `${RS}oct:${n}:Z:0${RS}`);
    });
    expect(second).toMatchObject({ pid: 41, seq: 2, result: { exitCode: 0 } });
    // Killed: the session shell's X (leader, status, next leader, request) ends it; a V cut
    // short by the kill is dropped.
    const third = await run('export A=1; sleep 9', (n, seq) => {
      f.send('out', `${RS}oct:${n}:V${RS}export A='1'\n`);
      f.send('out', `${RS}oct:x:X:42:137:43:${seq}${RS}`);
      f.send('err', `${RS}oct:x:X:42:137:43:${seq}${RS}`);
    });
    expect(third).toMatchObject({ pid: 42, seq: 3, result: { exitCode: 137 } });
    // A leader killed after its command's end (a late kill), before it took the next command:
    // the session shell sends that command to the next leader, and its X (naming the earlier
    // request) says which.
    const fourth = await run('echo 4', (n, seq) => {
      f.send('out', `${RS}oct:x:X:43:137:44:${seq - 1}${RS}`);
      f.send('err', `${RS}oct:x:X:43:137:44:${seq - 1}${RS}`);
      f.send('out', `4\n${RS}oct:${n}:Z:0:44${RS}`);
      f.send('err', `${RS}oct:${n}:Z:0${RS}`);
    });
    expect(fourth).toMatchObject({ pid: 43, live: 44, result: { exitCode: 0, stdout: '4\n' } });
    const fifth = await run('echo 5', (n) => {
      f.send('out', `${RS}oct:${n}:Z:0:44${RS}`);
      f.send('err', `${RS}oct:${n}:Z:0${RS}`);
    });
    expect(fifth).toMatchObject({ pid: 44, seq: 5 });
    s.close();
  });

  it('a command killed at once ends at its X, whichever stream brings it first', async () => {
    const f = fakeSession();
    const s = await f.open();
    const cmd = s.start(
      { command: { shell: 'kill -s TERM $$' }, timeoutMs: 5_000, outputCapBytes: 1024 },
      undefined,
    );
    // Another child's X (pid 40) is not this command's end; this one's comes on stderr first.
    f.send('err', `${RS}oct:x:X:40:0:41${RS}${RS}oct:x:X:41:143:44${RS}`);
    f.send('out', `${RS}oct:x:X:40:0:41${RS}`);
    f.send('out', `${RS}oct:x:X:41:143:44${RS}`);
    const t0 = Date.now();
    const { result } = await cmd.finished;
    expect(Date.now() - t0).toBeLessThan(4_000); // not at the timeout
    expect(result).toMatchObject({ exitCode: 143, timedOut: false });
    s.close();
  });

  it('an X of another pid does not end the command', async () => {
    const f = fakeSession();
    const s = await f.open();
    const cmd = s.start(
      { command: { shell: 'echo hi' }, timeoutMs: 5_000, outputCapBytes: 1024 },
      undefined,
    );
    const nonce = /set -- '([0-9a-f]{32})'/.exec(f.written.at(-1)!)![1]!;
    let ended = false;
    void cmd.finished.then(() => (ended = true));
    f.send('err', `${RS}oct:x:X:40:0${RS}`);
    f.send('out', `${RS}oct:x:X:40:0${RS}hi\n`);
    await new Promise((r) => setImmediate(r));
    expect(ended).toBe(false);
    f.send('out', `${RS}oct:${nonce}:Z:0${RS}`);
    f.send('err', `${RS}oct:${nonce}:Z:0${RS}`);
    const { result } = await cmd.finished;
    expect(result).toMatchObject({ exitCode: 0, stdout: 'hi\n' });
    s.close();
  });

  it('demultiplexes frames cut anywhere across chunks, and several frames in one chunk', async () => {
    const f = fakeSession();
    const s = await f.open();
    const cmd = s.start(
      { command: { shell: 'x' }, timeoutMs: 5_000, outputCapBytes: 1024 },
      undefined,
    );
    const nonce = /set -- '([0-9a-f]{32})'/.exec(f.written.at(-1)!)![1]!;
    const all = Buffer.concat([
      muxed(1, 'out-1 '),
      muxed(2, 'err-1 '),
      muxed(1, ''),
      muxed(1, 'out-2'),
      muxed(2, `err-2${RS}oct:${nonce}:Z:3${RS}`),
      muxed(1, `${RS}oct:${nonce}:Z:3${RS}`),
    ]);
    // One byte per chunk: every header and payload is cut.
    for (let i = 0; i < all.length; i++) f.stream.emit('data', all.subarray(i, i + 1));
    const { result } = await cmd.finished;
    expect(result).toMatchObject({ exitCode: 3, stdout: 'out-1 out-2', stderr: 'err-1 err-2' });
    s.close();
  });
});
