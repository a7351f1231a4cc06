import type { LogEntry, LogQuery, LogRecord } from '../../domain/history';
import { logEntryMatches } from '../../domain/history';
import type { LogReadResult, LogStore } from '../../ports/log-store.port';
import { logCapError } from '../jsonl/log-cap';

interface TaskLog {
  entries: LogEntry[];
  bytes: number;
  rewound: { from: number; to: number; by: string }[];
}

/** In-process logs; a position is an entry index. Same filters and cap as the JSONL store. */
export class MemoryLogStore implements LogStore {
  private readonly logs = new Map<string, TaskLog>();

  constructor(private readonly maxBytes = Number.MAX_SAFE_INTEGER) {}

  private log(taskId: string): TaskLog {
    let l = this.logs.get(taskId);
    if (!l) this.logs.set(taskId, (l = { entries: [], bytes: 0, rewound: [] }));
    return l;
  }

  append(taskId: string, entry: LogEntry): void {
    const l = this.log(taskId);
    const bytes = Buffer.byteLength(JSON.stringify(entry)) + 1;
    if (l.bytes + bytes > this.maxBytes) throw logCapError(taskId, this.maxBytes);
    l.bytes += bytes;
    l.entries.push(structuredClone(entry));
  }

  async flush(): Promise<void> {}

  async end(taskId: string): Promise<number> {
    return this.logs.get(taskId)?.entries.length ?? 0;
  }

  async read(taskId: string, q: LogQuery & { from?: number }): Promise<LogReadResult> {
    const l = this.logs.get(taskId);
    const entries = l?.entries ?? [];
    const text = q.text?.toLowerCase();
    const toRecord = (i: number, line: boolean): LogRecord => {
      const r: LogRecord = { ...structuredClone(entries[i]), pos: i };
      if (line) r.line = i + 1;
      const rw = l?.rewound.find((x) => i >= x.from && i < x.to);
      if (rw) r.rewoundBy = rw.by;
      return r;
    };
    const keep = (i: number) => {
      if (!logEntryMatches(entries[i], q, text)) return false;
      return q.includeRewound || !l?.rewound.some((x) => i >= x.from && i < x.to);
    };
    const out: LogRecord[] = [];
    if (q.tail !== undefined) {
      for (let i = entries.length - 1; i >= (q.from ?? 0) && out.length < q.tail; i--) {
        if (keep(i)) out.push(toRecord(i, false));
      }
      return { entries: out.reverse(), next: entries.length, corrupt: [], incompleteTailBytes: 0 };
    }
    let skipped = 0;
    let i = q.from ?? 0;
    for (; i < entries.length && out.length < q.limit; i++) {
      if (!keep(i)) continue;
      if (skipped++ < q.offset) continue;
      out.push(toRecord(i, true));
    }
    return { entries: out, next: i, corrupt: [], incompleteTailBytes: 0 };
  }

  async markRewound(taskId: string, from: number, to: number, checkpointId: string): Promise<void> {
    if (to > from) this.log(taskId).rewound.push({ from, to, by: checkpointId });
  }

  async copyPrefix(fromTask: string, toTask: string, position: number): Promise<void> {
    const src = this.logs.get(fromTask);
    const dst = this.log(toTask);
    const prefix = structuredClone(src?.entries.slice(0, position) ?? []);
    const bytes = prefix.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e)) + 1, 0);
    if (dst.bytes + bytes > this.maxBytes) throw logCapError(toTask, this.maxBytes);
    // The child's own entries (written since it was created) come after the parent's history.
    dst.entries.unshift(...prefix);
    dst.bytes += bytes;
    dst.rewound = [
      ...(src?.rewound ?? [])
        .filter((r) => r.from < position)
        .map((r) => ({ ...r, to: Math.min(r.to, position) })),
      ...dst.rewound.map((r) => ({ ...r, from: r.from + prefix.length, to: r.to + prefix.length })),
    ];
  }

  async repair(): Promise<null> {
    return null;
  }

  async deleteTask(taskId: string): Promise<void> {
    this.logs.delete(taskId);
  }

  async close(): Promise<void> {}
}
