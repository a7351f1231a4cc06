import type { ExecutionRecord } from '../../domain/execution';
import type { Checkpoint, Decision, LogRecord } from '../../domain/history';
import type { CorruptLogLine } from '../../ports/log-store.port';
import { parse } from './base.command';
import { table } from './output';

/** Accepts an ISO date-time, or a duration meaning "that long ago" (e.g. 2h). */
export function toInstant(flag: string, raw: string): string {
  if (/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/.test(raw.trim())) {
    return new Date(Date.now() - parse.duration(flag, raw)).toISOString();
  }
  return raw;
}

const oneLine = (s: string, max = 120) => {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

export function formatLogRecord(e: LogRecord): string {
  const data = e.data === undefined ? '' : ` ${JSON.stringify(e.data)}`;
  const rewound = e.rewoundBy ? ` [rewound by ${e.rewoundBy}]` : '';
  return `${e.ts} ${e.level.toUpperCase().padEnd(5)} ${e.message}${data}${rewound}`;
}

export function corruptWarning(c: CorruptLogLine): string {
  const where = c.line !== undefined ? `line ${c.line}` : `byte offset ${c.pos}`;
  return `warning: corrupt log ${where}: ${c.reason}: ${oneLine(c.excerpt, 80)}\n`;
}

export function formatDecisions(items: Decision[], total: number, offset: number): string {
  if (!items.length) return total ? `no decisions on this page (${total} in all)` : 'no decisions';
  const body = items
    .map((d) => {
      const head = `${d.ts}  ${d.agentId}${d.rewoundBy ? `  [rewound by ${d.rewoundBy}]` : ''}`;
      const lines = [head, `  decision:  ${d.decision}`];
      if (d.reasoning) lines.push(`  reasoning: ${d.reasoning}`);
      if (d.metadata) lines.push(`  metadata:  ${JSON.stringify(d.metadata)}`);
      return lines.join('\n');
    })
    .join('\n\n');
  return `${body}\n(${offset + 1}-${offset + items.length} of ${total})`;
}

export function formatExecutions(items: ExecutionRecord[], total: number, offset: number): string {
  if (!items.length)
    return total ? `no executions on this page (${total} in all)` : 'no executions';
  const body = table(
    ['ID', 'STARTED', 'AGENT', 'EXIT', 'MS', 'OUT/ERR BYTES', 'COMMAND'],
    items.map((e) => [
      e.id,
      e.startedAt,
      e.agentId,
      e.timedOut ? 'timeout' : (e.exitCode ?? 'killed'),
      Math.round(e.durationMs),
      `${e.stdoutBytes}/${e.stderrBytes}${e.truncated ? ' (cut)' : ''}${e.rewoundBy ? ' rewound' : ''}`,
      oneLine(Array.isArray(e.command) ? e.command.join(' ') : e.command, 60),
    ]),
  );
  return `${body}\n(${offset + 1}-${offset + items.length} of ${total})`;
}

export function formatCheckpoints(items: Checkpoint[]): string {
  if (!items.length) return 'no checkpoints';
  return table(
    ['ID', 'CREATED', 'STATUS THEN', 'STATE V', 'SANDBOX', 'DESCRIPTION'],
    items.map((c) => [
      c.id,
      c.createdAt,
      String(c.task.status ?? ''),
      c.state?.version ?? '-',
      c.snapshot ? 'yes' : 'no',
      oneLine(c.description, 60),
    ]),
  );
}

/** Progress lines on stderr (stdout stays clean for --json). */
export function stderrProgress(quiet?: boolean): (step: string) => void {
  return quiet ? () => undefined : (step) => process.stderr.write(`… ${step}\n`);
}
