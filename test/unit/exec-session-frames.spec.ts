import { EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';
import type Docker from 'dockerode';
import { ExecSession } from '../../src/adapters/docker/exec-session';

const RS = '\x1e';

/**
 * A session over a scripted stream (no engine): what the test writes to `out` / `err` is what the
 * demultiplexed stdout / stderr of the session shell would carry, in exactly that order.
 */
function fakeSession() {
  const written: string[] = [];
  const sinks: { out?: Writable; err?: Writable } = {};
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
  const client = {
    modem: {
      demuxStream: (_s: unknown, out: Writable, err: Writable) => {
        sinks.out = out;
        sinks.err = err;
      },
    },
  } as unknown as Docker;
  const send = (to: 'out' | 'err', text: string) => sinks[to]!.write(Buffer.from(text, 'latin1'));
  return {
    written,
    send,
    open: () => {
      // Boot: answer the bootstrap with the session shell's report (pid 7, setsid + /proc).
      onWrite = (text) => {
        const sid = /oct:([0-9a-f]{32}):/.exec(text)![1]!;
        onWrite = () => undefined;
        queueMicrotask(() => {
          send('out', `${RS}oct:${sid}:V${RS}export HOME='/root'\n${RS}oct:${sid}:W${RS}`);
          send('out', `${RS}oct:${sid}:S:7${RS}${RS}oct:${sid}:E:3${RS}`);
          send('err', `${RS}oct:${sid}:E:0${RS}`);
        });
      };
      return ExecSession.open(client, container);
    },
  };
}

describe('exec session frames (scripted stream)', () => {
  it('a command killed at once ends even when its X on stderr overtakes the S on stdout', async () => {
    const f = fakeSession();
    const s = await f.open();
    const cmd = s.start(
      { command: { shell: 'kill -s TERM $$' }, timeoutMs: 5_000, outputCapBytes: 1024 },
      undefined,
    );
    const nonce = /set -- '([0-9a-f]{32})'/.exec(f.written.at(-1)!)![1]!;
    // The previous command's X (another pid) comes first, then this one's on stderr, then the S.
    f.send('err', `${RS}oct:x:X:40:0${RS}${RS}oct:x:X:41:143${RS}`);
    f.send('out', `${RS}oct:x:X:40:0${RS}${RS}oct:${nonce}:S:41${RS}`);
    f.send('out', `${RS}oct:x:X:41:143${RS}`);
    const t0 = Date.now();
    const { result } = await cmd.finished;
    expect(Date.now() - t0).toBeLessThan(4_000); // not at the timeout
    expect(result).toMatchObject({ exitCode: 143, timedOut: false });
    s.close();
  });

  it('an X of another pid that comes before the S does not end the command', async () => {
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
    f.send('out', `${RS}oct:x:X:40:0${RS}${RS}oct:${nonce}:S:41${RS}hi\n`);
    await new Promise((r) => setImmediate(r));
    expect(ended).toBe(false);
    f.send('out', `${RS}oct:${nonce}:Z:0${RS}`);
    f.send('err', `${RS}oct:${nonce}:Z:0${RS}`);
    const { result } = await cmd.finished;
    expect(result).toMatchObject({ exitCode: 0, stdout: 'hi\n' });
    s.close();
  });
});
