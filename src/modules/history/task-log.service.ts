import { Inject, Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  logEntrySchema,
  logQuerySchema,
  type LogLevel,
  type LogQueryInput,
  type LogRecord,
} from '../../domain/history';
import { parseOrThrow } from '../../domain/validation';
import { CLOCK, type Clock } from '../../ports/clock.port';
import { LOG_STORE, type LogReadResult, type LogStore } from '../../ports/log-store.port';
import { TaskLookup } from './task-lookup';

export interface FollowOptions {
  signal?: AbortSignal;
  /** How often the log is polled for new entries (ms). Default 250. */
  pollMs?: number;
}

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
    while (!opts.signal?.aborted) {
      try {
        await sleep(opts.pollMs ?? 250, undefined, { signal: opts.signal });
      } catch {
        return; // aborted
      }
      const r = await this.read(taskId, { ...rest, limit: 10_000, from: next });
      for (const c of r.corrupt) opts.onCorrupt?.(c);
      yield* r.entries;
      next = r.next;
    }
  }
}
