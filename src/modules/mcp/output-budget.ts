import { utf8IfOver } from '../../domain/utf8';

/**
 * Fits `text` into `maxBytes` of UTF-8 by keeping its head and tail (the start shows what ran, the
 * end how it finished) with a marker saying how much was left out. Never splits a character.
 */
export function headTail(text: string, maxBytes: number): { text: string; truncated: boolean } {
  const buf = utf8IfOver(text, maxBytes);
  if (!buf) return { text, truncated: false };
  const half = Math.floor(maxBytes / 2);
  // Decoding a cut buffer replaces a split character with U+FFFD; trim those off the cut edges.
  const head = buf
    .subarray(0, half)
    .toString('utf8')
    .replace(/\uFFFD+$/, '');
  const tail = buf
    .subarray(buf.length - (maxBytes - half))
    .toString('utf8')
    .replace(/^\uFFFD+/, '');
  const omitted = buf.length - Buffer.byteLength(head) - Buffer.byteLength(tail);
  return { text: `${head}\n[… ${omitted} bytes omitted …]\n${tail}`, truncated: true };
}

/** True when `buf` is text a model can read: valid UTF-8 with no NUL bytes. */
export function isText(buf: Buffer): boolean {
  if (buf.includes(0)) return false;
  return Buffer.from(buf.toString('utf8'), 'utf8').equals(buf);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
