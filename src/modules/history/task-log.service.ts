import { Inject, Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  logEntrySchema,
  logQuerySchema,
  type LogLevel,
  type LogQueryInput,
  type LogRecord,
} from '../../domain/history';
import { DomainError } from '../../domain/errors';
import { parseOrThrow } from '../../domain/validation';
import { CLOCK, type Clock } from '../../ports/clock.port';
import { LOG_STORE, type LogReadResult, type LogStore } from '../../ports/log-store.port';
import { TaskLookup } from './task-lookup';

export interface FollowOptions {
  signal?: AbortSignal;
  /** How often the log is polled for new entries (ms). Default 250. */
  pollMs?: number;
  /**
   * Told of a poll that failed for a reason other than the task's own (a database hiccup): the
   * follow goes on from where it was, polling less often (up to every 5 s) until a poll succeeds.
   */
  onError?: (err: Error) => void;
}

/** The longest pause between polls while they fail. */
const FOLLOW_BACKOFF_MAX_MS = 5_000;

/**
 * A task's log: validated appends, filtered reads, and `follow` for live streaming.
 * @example
 * logs.write(taskId, 'info', 'tests green', { passed: 120 });
 * const { entries } = await logs.read(taskId, { level: 'warn', tail: 50 });
 */
@Injectable()
export class TaskLogService {
  constructor(
    @Inject(LOG_STORE) private readonly store: LogStore,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly lookup: TaskLookup,
  ) {}

  /** Appends without checking the task exists (hooks and services that already hold the task). */
  append(taskId: string, level: LogLevel, message: string, data?: unknown): void {
    const entry = parseOrThrow(logEntrySchema, {
      ts: this.clock.now().toISOString(),
      level,
      message,
      ...(data === undefined ? {} : { data }),
    });
    this.store.append(taskId, entry);
  }

  async write(taskId: string, level: LogLevel, message: string, data?: unknown): Promise<void> {
    const task = await this.lookup.get(taskId);
    this.append(task.id, level, message, data);
    await this.store.flush(task.id);
  }

  async read(
    taskId: string,
    query: LogQueryInput & { from?: number } = {},
  ): Promise<LogReadResult> {
    const task = await this.lookup.get(taskId);
    const { from, ...rest } = query;
    const q = parseOrThrow(logQuerySchema, rest);
    return this.store.read(task.id, { ...q, from });
  }

  /**
   * Yields the entries matching `query` (the last `tail` of them when given), then every new
   * matching entry as it is written, until `signal` aborts. Corrupt lines are yielded as errors
   * through `onCorrupt`, never skipped silently.
   */
  async *follow(
    taskId: string,
    query: LogQueryInput = {},
    opts: FollowOptions & { onCorrupt?: (r: LogReadResult['corrupt'][number]) => void } = {},
  ): AsyncGenerator<LogRecord> {
    const first = await this.read(taskId, query);
    for (const c of first.corrupt) opts.onCorrupt?.(c);
    yield* first.entries;
    let next = first.next;
    const { tail: _tail, offset: _offset, ...rest } = query;
    const pollMs = opts.pollMs ?? 250;
    let failures = 0;
    while (!opts.signal?.aborted) {
      const pause = failures ? Math.min(FOLLOW_BACKOFF_MAX_MS, pollMs * 2 ** failures) : pollMs;
      try {
        await sleep(pause, undefined, { signal: opts.signal });
      } catch {
        return; // aborted
      }
      let r: LogReadResult;
      try {
        r = await this.read(taskId, { ...rest, limit: 10_000, from: next });
      } catch (err) {
        // The task's own errors (deleted: NOT_FOUND) end the follow; anything else is retried.
        if (err instanceof DomainError || opts.signal?.aborted) throw err;
        failures++;
        opts.onError?.(err as Error);
        continue;
      }
      failures = 0;
      for (const c of r.corrupt) opts.onCorrupt?.(c);
      yield* r.entries;
      next = r.next;
    }
  }
}
