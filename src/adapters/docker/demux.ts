/**
 * Splits Docker's multiplexed attach stream (non-TTY exec) into stdout and stderr: each frame is an
 * 8-byte header (stream type 0/1/2, three zero bytes, payload length as uint32 big-endian) and the
 * payload. Payloads are handed on as they arrive, as views of the received chunks (no copy, no
 * stream objects per output), so a payload split across chunks comes in parts. Only a header cut
 * by a chunk boundary is held. A header with another type means the stream is not multiplexed
 * after all: the rest is passed on as stdout, as dockerode's `demuxStream` does.
 */
export function demuxDockerStream(
  stream: NodeJS.ReadableStream,
  onStdout: (chunk: Buffer) => void,
  onStderr: (chunk: Buffer) => void,
): void {
  let head: Buffer | undefined;
  let type = 0;
  let left = 0;
  let raw = false;
  stream.on('data', (chunk: Buffer) => {
    if (raw) return onStdout(chunk);
    const buf = head ? Buffer.concat([head, chunk]) : chunk;
    head = undefined;
    let i = 0;
    while (i < buf.length) {
      if (left === 0) {
        if (buf.length - i < 8) {
          head = Buffer.from(buf.subarray(i));
          return;
        }
        type = buf[i]!;
        if (type > 2) {
          raw = true;
          return onStdout(buf.subarray(i));
        }
        left = buf.readUInt32BE(i + 4);
        i += 8;
        continue;
      }
      const n = Math.min(left, buf.length - i);
      const part = buf.subarray(i, i + n);
      if (type === 1) onStdout(part);
      else if (type === 2) onStderr(part);
      left -= n;
      i += n;
    }
  });
}
