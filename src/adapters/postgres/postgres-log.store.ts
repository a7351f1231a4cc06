import type { Pool, PoolClient } from 'pg';
import { DomainError, ValidationError } from '../../domain/errors';
import type { LogEntry, LogQuery } from '../../domain/history';
import type { LogReadResult, LogStore } from '../../ports/log-store.port';
import { DEFAULT_LOG_MAX_BYTES, logCapError } from '../jsonl/log-cap';
import { logReadQuery, logRecords, toLogRow, type LogRowInput } from './postgres-log-rows';
import { inTransaction, lockTask, PG_LOCK_SPACE } from './postgres-tx';

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

interface Head {
  next_pos: number;
  bytes: number;
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
        const { head, dropped } = await this.writeGroup(taskId, group);
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

  private head(db: Pool | PoolClient, taskId: string): Promise<Head> {
    return db
      .query<Head>(
        'SELECT next_pos::float8 AS next_pos, bytes::float8 AS bytes FROM task_log_heads WHERE task_id = $1',
        [taskId],
      )
      .then((r) => r.rows[0] ?? { next_pos: 0, bytes: 0 });
  }

  private writeGroup(
    taskId: string,
    group: LogRowInput[],
  ): Promise<{ head: Head; dropped: number }> {
    return inTransaction(this.pool, async (c) => {
      await lockTask(c, PG_LOCK_SPACE.taskLog, taskId);
      const head = await this.head(c, taskId);
      let n = 0;
      let bytes = head.bytes;
      while (n < group.length && bytes + group[n].bytes <= this.maxBytes) bytes += group[n++].bytes;
      if (!n) return { head, dropped: group.length };
      const rows = group.slice(0, n);
      const next = { next_pos: head.next_pos + n, bytes };
      await c.query(
        `WITH ins AS (
           INSERT INTO task_logs (task_id, pos, ts, level, message, message_json, data, bytes)
           SELECT $1, $2 + u.o - 1, u.ts, u.level, u.message, u.message_json::json, u.data::json, u.bytes
           FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[])
             WITH ORDINALITY AS u(ts, level, message, message_json, data, bytes, o))
         INSERT INTO task_log_heads (task_id, next_pos, bytes) VALUES ($1, $9, $10)
         ON CONFLICT (task_id) DO UPDATE SET next_pos = EXCLUDED.next_pos, bytes = EXCLUDED.bytes`,
        [
          taskId,
          head.next_pos,
          rows.map((r) => r.ts),
          rows.map((r) => r.level),
          rows.map((r) => r.message),
          rows.map((r) => r.messageJson),
          rows.map((r) => r.data),
          rows.map((r) => r.bytes),
          next.next_pos,
          next.bytes,
        ],
      );
      return { head: next, dropped: group.length - n };
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
    const head = await this.head(this.pool, taskId);
    const s = this.sinks.get(taskId);
    if (s && !s.inFlight && !s.queued) s.size = head.bytes;
    return head.next_pos;
  }

  async read(taskId: string, q: LogQuery & { from?: number }): Promise<LogReadResult> {
    await this.flush(taskId);
    // The head first: every entry below it is committed, so bounding the read by it means a
    // follow-up read from `next` can never skip an entry committed in between.
    const end = (await this.head(this.pool, taskId)).next_pos;
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
    const size = await inTransaction(this.pool, async (c) => {
      await lockTask(c, PG_LOCK_SPACE.taskLog, toTask);
      const k = Math.max(0, Math.min(position, (await this.head(c, fromTask)).next_pos));
      const own = await this.head(c, toTask);
      if (!k) return own.bytes;
      const { rows } = await c.query<{ b: number }>(
        'SELECT COALESCE(SUM(bytes), 0)::float8 AS b FROM task_logs WHERE task_id = $1 AND pos < $2',
        [fromTask, k],
      );
      const bytes = own.bytes + rows[0].b;
      if (bytes > this.maxBytes) throw logCapError(toTask, this.maxBytes);
      // The child's own entries move after the parent's prefix. Through negative positions, because
      // the primary key is checked row by row and `pos + k` would collide with not-yet-moved rows.
      if (own.next_pos) {
        await c.query('UPDATE task_logs SET pos = -1 - (pos + $2) WHERE task_id = $1', [toTask, k]);
        await c.query('UPDATE task_logs SET pos = -1 - pos WHERE task_id = $1', [toTask]);
        await c.query(
          'UPDATE task_log_rewinds SET from_pos = from_pos + $2, to_pos = to_pos + $2 WHERE task_id = $1',
          [toTask, k],
        );
      }
      await c.query(
        `INSERT INTO task_logs (task_id, pos, ts, level, message, message_json, data, bytes)
         SELECT $2, pos, ts, level, message, message_json, data, bytes FROM task_logs
         WHERE task_id = $1 AND pos < $3`,
        [fromTask, toTask, k],
      );
      await c.query(
        `INSERT INTO task_log_rewinds (task_id, from_pos, to_pos, checkpoint_id)
         SELECT $2, from_pos, LEAST(to_pos, $3), checkpoint_id FROM task_log_rewinds
         WHERE task_id = $1 AND from_pos < $3 ORDER BY id`,
        [fromTask, toTask, k],
      );
      await c.query(
        `INSERT INTO task_log_heads (task_id, next_pos, bytes) VALUES ($1, $2, $3)
         ON CONFLICT (task_id) DO UPDATE SET next_pos = EXCLUDED.next_pos, bytes = EXCLUDED.bytes`,
        [toTask, own.next_pos + k, bytes],
      );
      return bytes;
    });
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
    await inTransaction(this.pool, async (c) => {
      await lockTask(c, PG_LOCK_SPACE.taskLog, taskId);
      for (const table of ['task_logs', 'task_log_rewinds', 'task_log_heads']) {
        await c.query(`DELETE FROM ${table} WHERE task_id = $1`, [taskId]);
      }
    });
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
