import { Inject, Injectable } from '@nestjs/common';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import {
  assertDumpHeader,
  emptyDumpCounts,
  parseDumpLine,
  type DumpCounts,
  type DumpRecord,
} from '../../domain/dump';
import { ValidationError } from '../../domain/errors';
import {
  PERSISTENCE_ADAPTERS,
  type PersistenceAdapters,
} from '../../ports/persistence-adapters.port';

export interface ImportOptions {
  force: boolean;
  /** Called as records are read, with the running counts. */
  onProgress?: (counts: DumpCounts) => void;
}

export interface ImportSummary {
  target: string;
  source: string;
  counts: DumpCounts;
}

const COUNTED: Partial<Record<DumpRecord['type'], keyof DumpCounts>> = {
  task: 'tasks',
  state: 'states',
  logRewind: 'logRewinds',
  decision: 'decisions',
  execution: 'executions',
  checkpoint: 'checkpoints',
  lock: 'locks',
};

/** The task a record belongs to (records of a task must follow the task's own record). */
function taskOf(r: DumpRecord): string | undefined {
  switch (r.type) {
    case 'state':
      return r.state.taskId;
    case 'logs':
    case 'logRewind':
      return r.taskId;
    case 'decision':
      return r.decision.taskId;
    case 'execution':
      return r.execution.taskId;
    case 'checkpoint':
      return r.checkpoint.taskId;
    default:
      return undefined;
  }
}

/**
 * Reads a dump (NDJSON) and hands its records to the configured store's importer, checking on
 * the way what single lines cannot show: the header comes first, every record follows its task,
 * log chunks are contiguous, and the end record's counts match what was read (a truncated or
 * spliced file is refused). Any error aborts the importer's transaction: nothing is written.
 */
@Injectable()
export class DumpImportService {
  constructor(@Inject(PERSISTENCE_ADAPTERS) private readonly store: PersistenceAdapters) {}

  async importFrom(input: Readable, opts: ImportOptions): Promise<ImportSummary> {
    const importer = this.store.importer;
    if (!importer) {
      throw new ValidationError(
        'OPENCODE_DATABASE_URL',
        `import writes into a Postgres database, and the configured store is ${this.store.description}; set OPENCODE_DATABASE_URL=postgres://… (export reads from any store)`,
      );
    }
    const summary: ImportSummary = {
      target: this.store.description,
      source: '',
      counts: emptyDumpCounts(),
    };
    await importer.importDump(this.read(input, summary, opts), { force: opts.force });
    return summary;
  }

  private async *read(
    input: Readable,
    summary: ImportSummary,
    opts: ImportOptions,
  ): AsyncGenerator<DumpRecord> {
    const counts = summary.counts;
    const logNext = new Map<string, number>();
    let line = 0;
    let ended = false;
    const lines = createInterface({ input, crlfDelay: Infinity });
    for await (const text of lines) {
      line++;
      if (ended) {
        if (!text.trim()) continue;
        throw new ValidationError(
          `dump line ${line}`,
          'follows the end record; the file was spliced',
        );
      }
      const r = parseDumpLine(text, line);
      if (line === 1) {
        assertDumpHeader(r);
        if (r.type === 'header') summary.source = r.source;
        yield r;
        continue;
      }
      const bad = (field: string, why: string) =>
        new ValidationError(`dump line ${line}, ${field}`, why, { line });
      if (r.type === 'header') throw bad('type', 'a second header; two dumps were concatenated');
      const taskId = taskOf(r);
      if (taskId !== undefined && !logNext.has(taskId)) {
        throw bad('taskId', `refers to task ${taskId}, whose task record does not come before it`);
      }
      if (r.type === 'task') {
        if (logNext.has(r.task.id)) throw bad('task.id', `task ${r.task.id} appears twice`);
        logNext.set(r.task.id, 0);
      } else if (r.type === 'logs') {
        const expected = logNext.get(r.taskId)!;
        if (r.from !== expected) {
          throw bad(
            'from',
            `is ${r.from}; the entries of task ${r.taskId} continue at ${expected}`,
          );
        }
        logNext.set(r.taskId, expected + r.entries.length);
        counts.logEntries += r.entries.length;
      } else if (r.type === 'logRewind' && r.to > logNext.get(r.taskId)!) {
        throw bad('to', `is past the ${logNext.get(r.taskId)} log entries of task ${r.taskId}`);
      } else if (r.type === 'end') {
        for (const k of Object.keys(counts) as (keyof DumpCounts)[]) {
          if (r.counts[k] !== counts[k]) {
            throw bad(
              `counts.${k}`,
              `the dump says ${r.counts[k]} but holds ${counts[k]}; the file is damaged, nothing was imported`,
            );
          }
        }
        ended = true;
      }
      const key = COUNTED[r.type];
      if (key) counts[key]++;
      if (key || r.type === 'logs') opts.onProgress?.(counts);
      yield r;
    }
    if (line === 0) assertDumpHeader(undefined);
    if (!ended) {
      throw new ValidationError(
        'dump',
        `ends at line ${line} without its end record: the file is truncated (was the export interrupted?); nothing was imported`,
      );
    }
  }
}
