import { Inject, Injectable } from '@nestjs/common';
import {
  DUMP_FORMAT,
  DUMP_LOG_CHUNK,
  DUMP_VERSION,
  emptyDumpCounts,
  type DumpCounts,
  type DumpRecord,
} from '../../domain/dump';
import { ValidationError } from '../../domain/errors';
import { executionQuerySchema } from '../../domain/execution';
import {
  decisionQuerySchema,
  logQuerySchema,
  type Checkpoint,
  type LogEntry,
} from '../../domain/history';
import { isTerminal } from '../../domain/task';
import { listTasksSchema } from '../../domain/task.schema';
import type { CorruptLogLine } from '../../ports/log-store.port';
import {
  PERSISTENCE_ADAPTERS,
  type PersistenceAdapters,
} from '../../ports/persistence-adapters.port';

export interface ExportOptions {
  /** Leave corrupt log lines out (counted) instead of refusing to export. */
  skipCorrupt: boolean;
  /** Called after each task with the running counts and the number of tasks. */
  onProgress?: (counts: DumpCounts, totalTasks: number) => void;
  onWarning?: (message: string) => void;
}

export interface ExportSummary {
  source: string;
  counts: DumpCounts;
  /** Corrupt log lines left out (only with `skipCorrupt`). */
  skippedCorruptLines: number;
  /** Bytes of unterminated last log lines (torn by a crash), never part of a log, left out. */
  skippedTornBytes: number;
  /** Pending or running tasks with a sandbox: their containers stay labelled for the source. */
  liveSandboxTasks: string[];
  maxFencingToken: number;
}

const PAGE = 1000;

/**
 * Reads a whole store through its ports and yields it as dump records (`src/domain/dump.ts`), so it
 * works for every storage family. Log positions become entry indexes: a checkpoint's
 * `logPosition` is the number of entries before it, rewound ranges are re-derived from the
 * entries' marks. Run it on a quiescent store (no `serve`/`mcp` writing meanwhile).
 */
@Injectable()
export class DumpExportService {
  constructor(@Inject(PERSISTENCE_ADAPTERS) private readonly store: PersistenceAdapters) {}

  async *records(opts: ExportOptions, summary: ExportSummary): AsyncGenerator<DumpRecord> {
    const s = this.store;
    const counts = summary.counts;
    summary.source = s.description;
    yield {
      type: 'header',
      format: DUMP_FORMAT,
      version: DUMP_VERSION,
      createdAt: new Date().toISOString(),
      source: s.description,
    };
    let total = 0;
    for (let offset = 0; ; offset += PAGE) {
      const page = await s.tasks.list(
        listTasksSchema.parse({ limit: PAGE, offset, sort: 'createdAt', order: 'asc' }),
      );
      total = page.total;
      for (const task of page.items) {
        yield { type: 'task', task };
        counts.tasks++;
        if (task.sandbox && !isTerminal(task.status)) summary.liveSandboxTasks.push(task.id);
        const state = await s.state.get(task.id);
        if (state) {
          yield { type: 'state', state };
          counts.states++;
        }
        const checkpoints = await s.checkpoints.list(task.id);
        const positions = checkpoints.map((c) => c.logPosition);
        const index = new Map<number, number>();
        yield* this.logs(task.id, positions, index, opts, summary);
        yield* this.journals(task.id, counts);
        for (const cp of checkpoints) {
          const checkpoint: Checkpoint = { ...cp, logPosition: index.get(cp.logPosition)! };
          yield { type: 'checkpoint', checkpoint };
          counts.checkpoints++;
        }
        opts.onProgress?.(counts, total);
      }
      if (page.items.length < PAGE) break;
    }
    for (const grant of await s.locks.list({}, Date.now())) {
      yield { type: 'lock', grant };
      counts.locks++;
      summary.maxFencingToken = Math.max(summary.maxFencingToken, grant.token);
    }
    summary.maxFencingToken = Math.max(summary.maxFencingToken, (await s.locks.maxToken?.()) ?? 0);
    yield { type: 'fencing', maxToken: summary.maxFencingToken };
    yield { type: 'end', counts: { ...counts } };
  }

  /**
   * The task's entries in chunks, then its rewound ranges (runs of entries marked by the same
   * checkpoint). Fills `index` with the entry index of every checkpoint position.
   */
  private async *logs(
    taskId: string,
    positions: number[],
    index: Map<number, number>,
    opts: ExportOptions,
    summary: ExportSummary,
  ): AsyncGenerator<DumpRecord> {
    const pending = [...new Set(positions)].sort((a, b) => a - b);
    const rewinds: { from: number; to: number; checkpointId: string }[] = [];
    const corrupt: CorruptLogLine[] = [];
    let i = 0;
    let from = 0;
    for (;;) {
      const res = await this.store.logs.read(taskId, {
        ...logQuerySchema.parse({ limit: DUMP_LOG_CHUNK, includeRewound: true }),
        from,
      });
      corrupt.push(...res.corrupt);
      if (res.incompleteTailBytes) summary.skippedTornBytes += res.incompleteTailBytes;
      const entries: LogEntry[] = [];
      for (const rec of res.entries) {
        while (pending.length && pending[0] <= rec.pos) index.set(pending.shift()!, i);
        const last = rewinds[rewinds.length - 1];
        if (rec.rewoundBy) {
          if (last && last.to === i && last.checkpointId === rec.rewoundBy) last.to = i + 1;
          else rewinds.push({ from: i, to: i + 1, checkpointId: rec.rewoundBy });
        }
        const e: LogEntry = { ts: rec.ts, level: rec.level, message: rec.message };
        if (rec.data !== undefined) e.data = rec.data;
        entries.push(e);
        i++;
      }
      if (entries.length) {
        yield { type: 'logs', taskId, from: i - entries.length, entries };
        summary.counts.logEntries += entries.length;
      }
      if (res.entries.length < DUMP_LOG_CHUNK || res.next <= from) break;
      from = res.next;
    }
    for (const p of pending) index.set(p, i);
    if (corrupt.length) {
      const first = corrupt[0];
      const where = first.line ? `line ${first.line}` : `byte ${first.pos}`;
      if (!opts.skipCorrupt) {
        throw new ValidationError(
          'log',
          `the log of task ${taskId} has ${corrupt.length} corrupt line(s) (first at ${where}: ${first.reason}); they cannot be carried over. Pass --skip-corrupt to leave them out (the source file keeps them)`,
          { taskId, corrupt: corrupt.slice(0, 10) },
        );
      }
      summary.skippedCorruptLines += corrupt.length;
      opts.onWarning?.(
        `left out ${corrupt.length} corrupt line(s) of the log of task ${taskId} (first at ${where}: ${first.reason})`,
      );
    }
    for (const r of rewinds) yield { type: 'logRewind', taskId, ...r };
    summary.counts.logRewinds += rewinds.length;
  }

  private async *journals(taskId: string, counts: DumpCounts): AsyncGenerator<DumpRecord> {
    for (let offset = 0; ; offset += PAGE) {
      const q = decisionQuerySchema.parse({ taskId, limit: PAGE, offset, order: 'asc' });
      const page = await this.store.decisions.list(q);
      for (const decision of page.items) yield { type: 'decision', decision };
      counts.decisions += page.items.length;
      if (page.items.length < PAGE) break;
    }
    for (let offset = 0; ; offset += PAGE) {
      const q = executionQuerySchema.parse({ taskId, limit: PAGE, offset, order: 'asc' });
      const page = await this.store.executions.list(q);
      for (const execution of page.items) yield { type: 'execution', execution };
      counts.executions += page.items.length;
      if (page.items.length < PAGE) break;
    }
  }
}

export function emptyExportSummary(): ExportSummary {
  return {
    source: '',
    counts: emptyDumpCounts(),
    skippedCorruptLines: 0,
    skippedTornBytes: 0,
    liveSandboxTasks: [],
    maxFencingToken: 0,
  };
}
