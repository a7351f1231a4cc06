import type { FileHandle } from 'node:fs/promises';
import { LOG_LEVELS, type LogEntry } from '../../domain/history';

export const NL = 0x0a;
/** Most corrupt lines one read reports in detail (the rest are counted in the last one's reason). */
export const MAX_CORRUPT_REPORTED = 100;

/** Parses one line; a string is the reason it is not a log entry. */
export function parseLine(text: string): LogEntry | string {
  if (!text.length) return 'empty line';
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return `not JSON (${(err as Error).message})`;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'not a JSON object';
  const e = v as Record<string, unknown>;
  if (typeof e.ts !== 'string') return 'missing "ts"';
  if (!LOG_LEVELS.includes(e.level as never)) return 'missing or unknown "level"';
  if (typeof e.message !== 'string') return 'missing "message"';
  return e as unknown as LogEntry;
}

/** Where the last complete line ends (the byte after its newline): 0 when there is none. */
export async function lastLineEnd(
  fh: FileHandle,
  size: number,
  chunk = 64 * 1024,
): Promise<number> {
  const buf = Buffer.allocUnsafe(chunk);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - chunk);
    const { bytesRead } = await fh.read(buf, 0, end - start, start);
    const idx = buf.subarray(0, bytesRead).lastIndexOf(NL);
    if (idx >= 0) return start + idx + 1;
    end = start;
  }
  return 0;
}

/**
 * Calls `onLine(buf, start, end, pos)` for each complete line in [from, to), reading forward in
 * chunks. Returns the position after the last complete line seen; `onLine` returning false stops.
 */
export async function forEachLine(
  fh: FileHandle,
  from: number,
  to: number,
  onLine: (buf: Buffer, start: number, end: number, pos: number) => boolean,
  chunk = 256 * 1024,
): Promise<number> {
  let carry: Buffer = Buffer.alloc(0);
  let filePos = from;
  let lineBase = from;
  const readBuf = Buffer.allocUnsafe(chunk);
  while (filePos < to) {
    const { bytesRead } = await fh.read(readBuf, 0, Math.min(chunk, to - filePos), filePos);
    if (bytesRead === 0) break;
    filePos += bytesRead;
    const buf = carry.length
      ? Buffer.concat([carry, readBuf.subarray(0, bytesRead)])
      : readBuf.subarray(0, bytesRead);
    let start = 0;
    for (let nl = buf.indexOf(NL, start); nl >= 0; nl = buf.indexOf(NL, start)) {
      if (!onLine(buf, start, nl, lineBase + start)) return lineBase + nl + 1;
      start = nl + 1;
    }
    lineBase += start;
    carry = Buffer.from(buf.subarray(start));
  }
  return lineBase;
}

/**
 * Calls `onLine` for complete lines ending at or before `end`, newest first, reading backwards in
 * chunks: memory stays at one chunk plus the longest line. `onLine` returning false stops.
 */
export async function forEachLineBackwards(
  fh: FileHandle,
  end: number,
  onLine: (buf: Buffer, start: number, end: number, pos: number) => boolean,
  chunk = 64 * 1024,
): Promise<void> {
  let leftover: Buffer = Buffer.alloc(0); // bytes [regionStart, lineEnd) of a line whose start is unknown
  let regionStart = end;
  while (regionStart > 0) {
    const cStart = Math.max(0, regionStart - chunk);
    const part = Buffer.allocUnsafe(regionStart - cStart);
    await fh.read(part, 0, part.length, cStart);
    const buf = leftover.length ? Buffer.concat([part, leftover]) : part;
    regionStart = cStart;
    // buf covers [cStart, cStart + buf.length); it ends with a newline (or is a fragment).
    let e = buf.length; // exclusive end of the current line including its newline
    while (e > 0) {
      const idx = e >= 2 ? buf.lastIndexOf(NL, e - 2) : -1;
      if (idx < 0 && cStart > 0) break; // line start is in an earlier chunk
      const s = idx + 1;
      if (!onLine(buf, s, e - 1, cStart + s)) return;
      e = s;
    }
    leftover = Buffer.from(buf.subarray(0, e));
  }
}
