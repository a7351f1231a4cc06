import {
  closeSync,
  copyFileSync,
  existsSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { DomainError, ValidationError } from '../../domain/errors';
import type { LogEntry, LogQuery, LogRecord } from '../../domain/history';
import { logEntryMatches } from '../../domain/history';
import type {
  CorruptLogLine,
  LogFsyncPolicy,
  LogReadResult,
  LogRepair,
  LogStore,
} from '../../ports/log-store.port';
import { fsyncDir, writeFileAtomic } from './atomic-file';
import {
  forEachLine,
  forEachLineBackwards,
  lastLineEnd,
  MAX_CORRUPT_REPORTED,
  NL,
  parseLine,
} from './jsonl-read';
import { DEFAULT_LOG_MAX_BYTES, logCapError } from './log-cap';

export interface JsonlLogStoreOptions {
  /** Directory of the `<taskId>.jsonl` files, normally `<home>/logs`. */
  dir: string;
  /** `off`: never fsync; `batch` (default): fdatasync after each group write; `always`: write and fdatasync every entry. */
  fsync?: LogFsyncPolicy;
  /** Longest an appended entry waits in memory before its group is written (ms). Default 20. */
  flushIntervalMs?: number;
  /** A group is written as soon as this many bytes are queued for a task. Default 64 KiB. */
  flushBytes?: number;
  /** Per-task cap of the log file (bytes); appends beyond it are refused. */
  maxBytes?: number;
  /** At most this many log files stay open for appending; the least recently used is closed. */
  maxOpenFiles?: number;
  /** Told about every torn tail cut off when a log is opened for appending. */
  onRepair?: (r: LogRepair) => void;
}

interface Sink {
  fd: number;
  /** Queued lines, concatenated (V8 ropes make += cheaper than an array join here). */
  queue: string;
  queued: number;
  /** Bytes on disk as this process knows them (other processes may add more). */
  size: number;
  error?: Error;
}

interface Rewind {
  from: number;
  to: number;
  by: string;
}

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/;

/**
 * JSONL logs, one file per task (`<dir>/<taskId>.jsonl`), written with group commit: `append`
 * queues a line; a task's queue is written with one `write()` when it reaches `flushBytes`, after
 * `flushIntervalMs`, or on `flush()`/`close()`, then fdatasync'ed per the fsync policy. Files are
 * opened O_APPEND so several processes can append to one log (each group lands whole). Reads
 * stream the file in chunks (forward) or read it backwards (tail): memory never holds a whole file.
 */
export class JsonlLogStore implements LogStore {
  private readonly sinks = new Map<string, Sink>();
  private timer: NodeJS.Timeout | undefined;
  private readonly fsync: LogFsyncPolicy;
  private readonly intervalMs: number;
  private readonly flushBytes: number;
  private readonly maxBytes: number;
  private readonly maxOpen: number;
  private dirReady = false;
  private lastId: string | undefined;
  private lastSink: Sink | undefined;

  constructor(private readonly opts: JsonlLogStoreOptions) {
    this.fsync = opts.fsync ?? 'batch';
    this.intervalMs = opts.flushIntervalMs ?? 20;
    this.flushBytes = opts.flushBytes ?? 64 * 1024;
    this.maxBytes = opts.maxBytes ?? DEFAULT_LOG_MAX_BYTES;
    this.maxOpen = opts.maxOpenFiles ?? 64;
  }

  /** The file of a task's log. */
  pathOf(taskId: string): string {
    if (!SAFE_ID.test(taskId)) {
      throw new ValidationError('taskId', `'${taskId}' is not a valid task id for a log file name`);
    }
    return join(this.opts.dir, `${taskId}.jsonl`);
  }

  private rewindsPath(taskId: string): string {
    return join(this.opts.dir, `${taskId}.rewound.json`);
  }

  append(taskId: string, entry: LogEntry): void {
    // Hot path (see bench/persistence.mjs): the last task's sink is cached to skip the LRU touch.
    const sink = taskId === this.lastId ? this.lastSink! : this.sink(taskId);
    if (sink.error) throw this.writeError(taskId, sink);
    const line = `${JSON.stringify(entry)}\n`;
    const len = Buffer.byteLength(line);
    if (sink.size + sink.queued + len > this.maxBytes) throw logCapError(taskId, this.maxBytes);
    sink.queue += line;
    sink.queued += len;
    if (this.fsync === 'always' || sink.queued >= this.flushBytes) this.write(taskId, sink);
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        for (const [id, s] of this.sinks) this.write(id, s);
      }, this.intervalMs);
      this.timer.unref();
    }
  }

  /** Writes one task's queue as a single group. Errors are kept and surface on the next call. */
  private write(_taskId: string, sink: Sink): void {
    if (!sink.queued || sink.error) return;
    const text = sink.queue;
    const bytes = sink.queued;
    sink.queue = '';
    sink.queued = 0;
    try {
      // One write() per group; a short write (rare on regular files) is finished from a Buffer.
      const n = writeSync(sink.fd, text);
      if (n < bytes) {
        const buf = Buffer.from(text);
        for (let off = n; off < buf.length;) off += writeSync(sink.fd, buf, off, buf.length - off);
      }
      if (this.fsync !== 'off') fdatasyncSync(sink.fd);
      sink.size += bytes;
    } catch (err) {
      sink.error = err as Error;
    }
  }

  private writeError(taskId: string, sink: Sink): DomainError {
    const err = sink.error!;
    sink.error = undefined;
    return new DomainError(
      'STORAGE_UNAVAILABLE',
      `cannot write the log of task ${taskId} (${this.pathOf(taskId)}): ${err.message}`,
      { taskId },
    );
  }

  async flush(taskId?: string): Promise<void> {
    const ids = taskId === undefined ? [...this.sinks.keys()] : [taskId];
    for (const id of ids) {
      const s = this.sinks.get(id);
      if (!s) continue;
      this.write(id, s);
      if (s.error) throw this.writeError(id, s);
    }
  }

  async end(taskId: string): Promise<number> {
    await this.flush(taskId);
    const s = this.sinks.get(taskId);
    if (s) return (s.size = fstatSync(s.fd).size);
    const path = this.pathOf(taskId);
    if (!existsSync(path)) return 0;
    const fh = await open(path, 'r');
    try {
      return await lastLineEnd(fh, (await fh.stat()).size);
    } finally {
      await fh.close();
    }
  }

  private sink(taskId: string): Sink {
    let s = this.sinks.get(taskId);
    if (s) {
      this.sinks.delete(taskId); // re-insert: Map order is our LRU order
      this.sinks.set(taskId, s);
      this.lastId = taskId;
      this.lastSink = s;
      return s;
    }
    const path = this.pathOf(taskId);
    if (!this.dirReady) {
      mkdirSync(this.opts.dir, { recursive: true, mode: 0o700 });
      this.dirReady = true;
    }
    const fd = openSync(path, 'a+', 0o600);
    const repair = this.repairFd(taskId, fd);
    if (repair) this.opts.onRepair?.(repair);
    s = { fd, queue: '', queued: 0, size: fstatSync(fd).size };
    this.sinks.set(taskId, s);
    this.lastId = taskId;
    this.lastSink = s;
    if (this.sinks.size > this.maxOpen) {
      const [oldest] = this.sinks.keys();
      this.closeSink(oldest);
    }
    return s;
  }

  private closeSink(taskId: string, discard = false): void {
    const s = this.sinks.get(taskId);
    if (!s) return;
    if (!discard) this.write(taskId, s);
    this.sinks.delete(taskId);
    if (this.lastId === taskId) this.lastId = this.lastSink = undefined;
    closeSync(s.fd);
  }

  /** Cuts an unterminated last line off the file, keeping it in `<file>.torn-<time>`. */
  private repairFd(taskId: string, fd: number): LogRepair | null {
    const size = fstatSync(fd).size;
    if (size === 0) return null;
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    if (last[0] === NL) return null;
    const chunk = Buffer.allocUnsafe(64 * 1024);
    let cut = 0;
    for (let end = size; end > 0;) {
      const start = Math.max(0, end - chunk.length);
      const n = readSync(fd, chunk, 0, end - start, start);
      const idx = chunk.subarray(0, n).lastIndexOf(NL);
      if (idx >= 0) {
        cut = start + idx + 1;
        break;
      }
      end = start;
    }
    const fragment = Buffer.allocUnsafe(size - cut);
    readSync(fd, fragment, 0, fragment.length, cut);
    const keptAt = `${this.pathOf(taskId)}.torn-${Date.now()}`;
    writeFileSync(keptAt, fragment, { mode: 0o600 });
    ftruncateSync(fd, cut);
    fdatasyncSync(fd);
    return { taskId, truncatedTo: cut, removedBytes: size - cut, keptAt };
  }

  async repair(taskId: string): Promise<LogRepair | null> {
    const path = this.pathOf(taskId);
    if (!existsSync(path)) return null;
    this.closeSink(taskId);
    const fd = openSync(path, 'r+');
    try {
      return this.repairFd(taskId, fd);
    } finally {
      closeSync(fd);
    }
  }

  private rewinds(taskId: string): Rewind[] {
    const p = this.rewindsPath(taskId);
    return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as Rewind[]) : [];
  }

  async read(taskId: string, q: LogQuery & { from?: number }): Promise<LogReadResult> {
    const path = this.pathOf(taskId);
    await this.flush(taskId);
    const empty: LogReadResult = { entries: [], next: 0, corrupt: [], incompleteTailBytes: 0 };
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ...empty, next: q.from ?? 0 };
      throw err;
    }
    try {
      const size = (await fh.stat()).size;
      const end = await lastLineEnd(fh, size);
      const rewinds = this.rewinds(taskId);
      const text = q.text?.toLowerCase();
      const corrupt: CorruptLogLine[] = [];
      let corruptCount = 0;
      const entries: LogRecord[] = [];
      let lineNo = q.from ? undefined : 0;
      let skipped = 0;
      const visit = (buf: Buffer, s: number, e: number, pos: number, forward: boolean) => {
        if (forward && lineNo !== undefined) lineNo++;
        const raw = buf.toString('utf8', s, e);
        const parsed = parseLine(raw);
        if (typeof parsed === 'string') {
          if (++corruptCount <= MAX_CORRUPT_REPORTED) {
            const c: CorruptLogLine = { pos, reason: parsed, excerpt: raw.slice(0, 200) };
            if (forward && lineNo !== undefined) c.line = lineNo;
            corrupt.push(c);
          }
          return true;
        }
        if (!logEntryMatches(parsed, q, text)) return true;
        const rw = rewinds.find((r) => pos >= r.from && pos < r.to);
        if (rw && !q.includeRewound) return true;
        if (forward && skipped++ < q.offset) return true;
        const rec: LogRecord = { ...parsed, pos };
        if (forward && lineNo !== undefined) rec.line = lineNo;
        if (rw) rec.rewoundBy = rw.by;
        entries.push(rec);
        return entries.length < (forward ? q.limit : q.tail!);
      };
      let next = end;
      if (q.tail !== undefined) {
        await forEachLineBackwards(fh, end, (b, s, e, p) => visit(b, s, e, p, false));
        entries.reverse();
        corrupt.reverse();
      } else {
        next = await forEachLine(fh, q.from ?? 0, end, (b, s, e, p) => visit(b, s, e, p, true));
      }
      if (corruptCount > MAX_CORRUPT_REPORTED) {
        corrupt[corrupt.length - 1].reason +=
          ` (and ${corruptCount - MAX_CORRUPT_REPORTED} more corrupt lines)`;
      }
      return { entries, next, corrupt, incompleteTailBytes: size - end };
    } finally {
      await fh.close();
    }
  }

  async markRewound(taskId: string, from: number, to: number, checkpointId: string): Promise<void> {
    if (to <= from) return;
    const list = [...this.rewinds(taskId), { from, to, by: checkpointId }];
    writeFileAtomic(this.rewindsPath(taskId), JSON.stringify(list));
  }

  async copyPrefix(fromTask: string, toTask: string, position: number): Promise<void> {
    await this.flush(fromTask);
    this.closeSink(toTask);
    const src = this.pathOf(fromTask);
    const dst = this.pathOf(toTask);
    mkdirSync(this.opts.dir, { recursive: true, mode: 0o700 });
    const tmp = `${dst}.fork-tmp-${process.pid}`;
    if (existsSync(src)) copyFileSync(src, tmp);
    else writeFileSync(tmp, '');
    const fd = openSync(tmp, 'r+');
    try {
      ftruncateSync(fd, Math.min(position, fstatSync(fd).size));
      if (existsSync(dst)) {
        const own = readFileSync(dst); // the child's own few lines written since it was created
        writeSync(fd, own, 0, own.length, fstatSync(fd).size);
      }
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const offset = Math.min(position, existsSync(src) ? statSync(src).size : 0);
    const rewinds = [
      ...this.rewinds(fromTask)
        .filter((r) => r.from < position)
        .map((r) => ({ ...r, to: Math.min(r.to, position) })),
      ...this.rewinds(toTask).map((r) => ({ ...r, from: r.from + offset, to: r.to + offset })),
    ];
    if (rewinds.length) writeFileAtomic(this.rewindsPath(toTask), JSON.stringify(rewinds));
    renameSync(tmp, dst);
    fsyncDir(this.opts.dir);
  }

  async deleteTask(taskId: string): Promise<void> {
    this.closeSink(taskId, true);
    const base = `${taskId}.`;
    if (!existsSync(this.opts.dir)) return;
    for (const f of readdirSync(this.opts.dir)) {
      if (f.startsWith(base) || f.startsWith(`.${base}`))
        rmSync(join(this.opts.dir, f), { force: true });
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const errors: string[] = [];
    for (const id of [...this.sinks.keys()]) {
      const s = this.sinks.get(id)!;
      this.write(id, s);
      if (s.error) errors.push(`${id}: ${s.error.message}`);
      this.closeSink(id, true);
    }
    if (errors.length) {
      throw new DomainError(
        'STORAGE_UNAVAILABLE',
        `could not write logs at shutdown: ${errors.join('; ')}`,
      );
    }
  }
}
