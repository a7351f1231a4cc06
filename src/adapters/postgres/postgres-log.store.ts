import type { Pool } from 'pg';
import { DomainError, ValidationError } from '../../domain/errors';
import type { LogEntry, LogQuery } from '../../domain/history';
import type { LogReadResult, LogStore } from '../../ports/log-store.port';
import { DEFAULT_LOG_MAX_BYTES, logCapError } from '../jsonl/log-cap';
import { logReadQuery, logRecords, toLogRow, type LogRowInput } from './postgres-log-rows';
import { copyLogPrefix, deleteLog, logHead, writeLogGroup } from './postgres-log-writes';

export interface PostgresLogStoreOptions {
  /** Longest an appended entry waits in memory before its group is written (ms). Default 20. */
  flushIntervalMs?: number;
  /** A task's group is written as soon as this many bytes are queued. Default 256 KiB. */
  flushBytes?: number;
  /** Per-task cap (bytes of the entries as JSONL lines); appends beyond it are refused. */
  maxBytes?: number;
}

interface Sink {
  queue: LogRowInput[];
  /** Bytes in `queue`. */
  queued: number;
  /** Bytes taken from the queue whose write has not finished. */
  inFlight: number;
  /** The task's stored bytes as of this process's last write or look (other hosts may add). */
  size: number;
  /** Writes of this task, in order: one group at a time, so positions follow append order. */
  chain: Promise<void>;
  error?: Error;
}

/** Idle per-task bookkeeping kept at most (only sizes: it is re-learnt at the next write). */
const MAX_IDLE_SINKS = 1024;

/**
 * Task logs in Postgres, readable from every host. `append` queues in memory; a task's queue is
 * written as one group (by size, after a short interval, on `flush()`/`close()`) in a transaction
 * holding the task's advisory lock, which numbers the entries from `task_log_heads.next_pos`: a
 * position is the entry's index in the task's log, assigned in commit order, so a follower reading
 * `from` its last `next` never misses an entry. The per-task cap is checked at append against what
 * this process knows, and again at write time under the lock against the stored total (other
 * hosts' entries included); entries that no longer fit are dropped and the next call reports it.
 * Durability is the server's: a group is durable when its transaction commits (no fsync policy).
 * Text search lower-cases with the database's ctype (as JavaScript does for a UTF-8 locale; ASCII
 * only under the `C` locale).
 */
export class PostgresLogStore implements LogStore {
  private readonly sinks = new Map<string, Sink>();
  private timer: NodeJS.Timeout | undefined;
  private readonly intervalMs: number;
  private readonly flushBytes: number;
  private readonly maxBytes: number;

  constructor(
    private readonly pool: Pool,
    opts: PostgresLogStoreOptions = {},
  ) {
    this.intervalMs = opts.flushIntervalMs ?? 20;
    this.flushBytes = opts.flushBytes ?? 256 * 1024;
    this.maxBytes = opts.maxBytes ?? DEFAULT_LOG_MAX_BYTES;
  }

  append(taskId: string, entry: LogEntry): void {
    const sink = this.sink(taskId);
    if (sink.error) throw this.takeError(sink);
    const row = toLogRow(entry);
    if (sink.size + sink.inFlight + sink.queued + row.bytes > this.maxBytes) {
      throw logCapError(taskId, this.maxBytes);
    }
    sink.queue.push(row);
    sink.queued += row.bytes;
    if (sink.queued >= this.flushBytes) this.startWrite(taskId, sink);
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        for (const [id, s] of this.sinks) this.startWrite(id, s);
      }, this.intervalMs);
      this.timer.unref();
    }
  }

  private sink(taskId: string): Sink {
    let s = this.sinks.get(taskId);
    if (s) return s;
    if (this.sinks.size >= MAX_IDLE_SINKS) {
      for (const [id, x] of this.sinks) {
        if (!x.queue.length && !x.inFlight && !x.error) {
          this.sinks.delete(id);
          break;
        }
      }
    }
    s = { queue: [], queued: 0, inFlight: 0, size: 0, chain: Promise.resolve() };
    this.sinks.set(taskId, s);
    return s;
  }

  private takeError(sink: Sink): Error {
    const err = sink.error!;
    sink.error = undefined;
    return err;
  }

  /** Takes the task's queue now (so groups keep append order) and chains its write. */
  private startWrite(taskId: string, sink: Sink): void {
    if (!sink.queue.length) return;
    const group = sink.queue;
    const bytes = sink.queued;
    sink.queue = [];
    sink.queued = 0;
    sink.inFlight += bytes;
    sink.chain = sink.chain.then(async () => {
      try {
        const { head, dropped } = await writeLogGroup(this.pool, taskId, group, this.maxBytes);
        sink.size = head.bytes;
        if (dropped) {
          sink.error = new ValidationError(
            'log',
            `${dropped} entries of task ${taskId} were not written: its log reached the cap of ${this.maxBytes} bytes (OPENCODE_LOG_MAX_BYTES) with entries written elsewhere`,
            { taskId, maxBytes: this.maxBytes, dropped },
          );
        }
      } catch (err) {
        sink.error = new DomainError(
          'STORAGE_UNAVAILABLE',
          `cannot write ${group.length} log entries of task ${taskId} to Postgres: ${(err as Error).message}`,
          { taskId },
        );
      } finally {
        sink.inFlight -= bytes;
      }
    });
  }

  async flush(taskId?: string): Promise<void> {
    const ids = taskId === undefined ? [...this.sinks.keys()] : [taskId];
    for (const id of ids) {
      const s = this.sinks.get(id);
      if (!s) continue;
      this.startWrite(id, s);
      await s.chain;
      if (s.error) throw this.takeError(s);
    }
  }

  async end(taskId: string): Promise<number> {
    await this.flush(taskId);
    const head = await logHead(this.pool, taskId);
    const s = this.sinks.get(taskId);
    if (s && !s.inFlight && !s.queued) s.size = head.bytes;
    return head.next_pos;
  }

  async read(taskId: string, q: LogQuery & { from?: number }): Promise<LogReadResult> {
    await this.flush(taskId);
    // The head first: every entry below it is committed, so bounding the read by it means a
    // follow-up read from `next` can never skip an entry committed in between.
    const end = (await logHead(this.pool, taskId)).next_pos;
    const from = q.from ?? 0;
    const { sql, params, tail } = logReadQuery(taskId, q, from, end);
    const { rows } = await this.pool.query(sql, params);
    const entries = logRecords(rows, tail);
    const full = !tail && entries.length === q.limit;
    const next = full ? entries[entries.length - 1].pos + 1 : Math.max(end, from);
    return { entries, next, corrupt: [], incompleteTailBytes: 0 };
  }

  async markRewound(taskId: string, from: number, to: number, checkpointId: string): Promise<void> {
    if (to <= from) return;
    await this.pool.query(
      'INSERT INTO task_log_rewinds (task_id, from_pos, to_pos, checkpoint_id) VALUES ($1, $2, $3, $4)',
      [taskId, from, to, checkpointId],
    );
  }

  async copyPrefix(fromTask: string, toTask: string, position: number): Promise<void> {
    await this.flush(fromTask);
    await this.flush(toTask);
    const size = await copyLogPrefix(this.pool, fromTask, toTask, position, this.maxBytes);
    const s = this.sinks.get(toTask);
    if (s && !s.inFlight && !s.queued) s.size = size;
  }

  /** Nothing can be torn: a group is committed whole or not at all. */
  async repair(): Promise<null> {
    return null;
  }

  async deleteTask(taskId: string): Promise<void> {
    const s = this.sinks.get(taskId);
    this.sinks.delete(taskId);
    if (s) {
      s.queue = [];
      s.queued = 0;
      await s.chain;
    }
    await deleteLog(this.pool, taskId);
  }

  /** Writes everything queued; the pool belongs to the caller. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const errors: string[] = [];
    for (const [id, s] of this.sinks) {
      this.startWrite(id, s);
      await s.chain;
      if (s.error) errors.push(`${id}: ${s.error.message}`);
    }
    this.sinks.clear();
    if (errors.length) {
      throw new DomainError(
        'STORAGE_UNAVAILABLE',
        `could not write logs at shutdown: ${errors.join('; ')}`,
      );
    }
  }
}
