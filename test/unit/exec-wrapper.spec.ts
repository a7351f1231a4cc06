import { randomBytes } from 'node:crypto';
import {
  WrappedOutput,
  wrapDir,
  wrappedCmd,
  WRAPPER_SCRIPT,
} from '../../src/adapters/docker/exec-wrapper';
import { parseSessionLogs } from '../../src/adapters/docker/session-protocol';

const RS = '\x1e';
const nonce = 'ab'.repeat(16);

function collect() {
  const got = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const w = new WrappedOutput(nonce, (s, c) => got[s].push(Buffer.from(c)));
  const text = (s: 'stdout' | 'stderr') => Buffer.concat(got[s]);
  return { w, text };
}

/** Feeds `buf` in pieces of 1..7 bytes (frames split anywhere). */
function feed(w: WrappedOutput, stream: 'stdout' | 'stderr', buf: Buffer) {
  for (let i = 0; i < buf.length;) {
    const n = 1 + ((i * 7 + 3) % 7);
    w.push(stream, buf.subarray(i, i + n));
    i += n;
  }
}

describe('argv journaling wrapper (output side)', () => {
  it('passes the argv as positional parameters, never inside the script', () => {
    const cmd = wrappedCmd(
      ['sh', '-c', "echo '$(x)'"],
      { nonce, dir: wrapDir(nonce), clean: [wrapDir('cd'.repeat(16)), '/etc; rm -rf /'] },
      'marker',
    );
    expect(cmd.slice(0, 4)).toEqual(['/bin/sh', '-c', 'eval "$__OCT_W"', 'oct']);
    // Only directories of our own shape are ever removed.
    expect(cmd.slice(4, 8)).toEqual([wrapDir(nonce), nonce, 'marker', wrapDir('cd'.repeat(16))]);
    expect(cmd.slice(8)).toEqual(['sh', '-c', "echo '$(x)'"]);
    expect(WRAPPER_SCRIPT).not.toContain('$(x)');
  });

  it('removes the start, S and X frames, split anywhere; data is byte-exact', () => {
    const { w, text } = collect();
    const data = Buffer.concat([randomBytes(5000), Buffer.from(`${RS}oct:junk${RS}x${RS}oc`)]);
    const out = Buffer.concat([
      Buffer.from(`${RS}oct:${nonce}:E:1${RS}${RS}oct:${nonce}:S:42${RS}`),
      data,
      Buffer.from(`${RS}oct:x:X:42:7${RS}`),
    ]);
    feed(w, 'stderr', Buffer.from(`err${RS}oct:x:X:42:7${RS}`)); // before the start frame
    feed(w, 'stdout', out);
    w.end();
    expect(w.mode).toBe('journaled');
    expect(text('stdout').equals(data)).toBe(true);
    expect(text('stderr').toString()).toBe('err');
    expect(w.outEnded && w.errEnded).toBe(true);
    // The logs (tee'd from the FIFOs: no start frame) read back the same.
    const logs = parseSessionLogs(
      nonce,
      out.subarray(`${RS}oct:${nonce}:E:1${RS}`.length),
      Buffer.from(`err${RS}oct:x:X:42:7${RS}`),
    );
    expect(logs).toMatchObject({ exitCode: 7, pid: 42 });
    expect(logs.stdout.equals(data)).toBe(true);
  });

  it('unjournaled (E:0): everything after the start frame is output, unchanged', () => {
    const { w, text } = collect();
    feed(w, 'stdout', Buffer.from(`${RS}oct:${nonce}:E:0${RS}hi${RS}oct:x:X:1:0${RS}`));
    w.end();
    expect(w.mode).toBe('plain');
    expect(text('stdout').toString()).toBe(`hi${RS}oct:x:X:1:0${RS}`);
  });

  it('no start frame: nothing is output, what the engine said is held', async () => {
    const { w, text } = collect();
    feed(w, 'stdout', Buffer.from('OCI runtime exec failed: no such file\r\n'));
    w.end();
    expect(await w.modeKnown).toBe('none');
    expect(text('stdout').length).toBe(0);
    expect(w.held().stdout.toString()).toContain('OCI runtime exec failed');
  });
});
