import {
  LEVEL_RANK,
  LOG_LEVELS,
  type LogEntry,
  type LogQuery,
  type LogRecord,
} from '../../domain/history';

/** An entry ready for `task_logs`, with its size as a JSONL line (the cap counts the same bytes). */
export interface LogRowInput {
  ts: string;
  level: string;
  /** Searchable copy of the message (text cannot hold U+0000, so NULs are dropped here)… */
  message: string;
  /** …and the exact message as JSON, only when the text copy is not exact. */
  messageJson: string | null;
  data: string | null;
  bytes: number;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function toLogRow(entry: LogEntry): LogRowInput {
  const m = entry.message;
  const inexact = m.includes('\u0000') || LONE_SURROGATE.test(m);
  return {
    ts: entry.ts,
    level: entry.level,
    message: inexact ? m.replaceAll('\u0000', '') : m,
    messageJson: inexact ? JSON.stringify(m) : null,
    data: entry.data === undefined ? null : JSON.stringify(entry.data),
    bytes: Buffer.byteLength(JSON.stringify(entry)) + 1,
  };
}

interface Row {
  pos: number;
  ts: string;
  level: LogEntry['level'];
  message: string;
  message_json: string | null;
  data: string | null;
  rewound_by: string | null;
}

function fromRow(r: Row, line: boolean): LogRecord {
  const e: LogRecord = {
    ts: r.ts,
    level: r.level,
    message: r.message_json === null ? r.message : JSON.parse(r.message_json),
    pos: r.pos,
  };
  if (r.data !== null) e.data = JSON.parse(r.data);
  // Positions are dense indexes from 0, so a forward read knows every entry's line number.
  if (line) e.line = r.pos + 1;
  if (r.rewound_by !== null) e.rewoundBy = r.rewound_by;
  return e;
}

const IN_RANGE = 'r.task_id = l.task_id AND l.pos >= r.from_pos AND l.pos < r.to_pos';

/**
 * The SELECT for one read of entries in [from, end): the filters of `logEntryMatches` in SQL
 * (timestamps compare as text, as there; text matches the lower-cased message or data JSON), and
 * the first rewound range covering each entry (as the JSONL store's `rewinds.find`).
 */
export function logReadQuery(
  taskId: string,
  q: LogQuery,
  from: number,
  end: number,
): { sql: string; params: unknown[]; tail: boolean } {
  const params: unknown[] = [taskId, from, end];
  const where = ['l.task_id = $1', 'l.pos >= $2', 'l.pos < $3'];
  if (q.level) {
    const levels = LOG_LEVELS.filter((l) => LEVEL_RANK[l] >= LEVEL_RANK[q.level!]);
    where.push(`l.level = ANY($${params.push(levels)}::text[])`);
  }
  if (q.since) where.push(`l.ts >= $${params.push(new Date(q.since).toISOString())}`);
  if (q.until) where.push(`l.ts <= $${params.push(new Date(q.until).toISOString())}`);
  if (q.text) {
    const n = params.push(q.text.toLowerCase());
    where.push(`(strpos(lower(l.message), $${n}) > 0 OR strpos(lower(l.data::text), $${n}) > 0)`);
  }
  if (!q.includeRewound)
    where.push(`NOT EXISTS (SELECT 1 FROM task_log_rewinds r WHERE ${IN_RANGE})`);
  const tail = q.tail !== undefined;
  const page = tail
    ? `ORDER BY l.pos DESC LIMIT $${params.push(q.tail)}`
    : `ORDER BY l.pos LIMIT $${params.push(q.limit)} OFFSET $${params.push(q.offset)}`;
  const sql = `SELECT l.pos::float8 AS pos, l.ts, l.level, l.message, l.message_json::text AS message_json,
      l.data::text AS data,
      (SELECT r.checkpoint_id FROM task_log_rewinds r WHERE ${IN_RANGE} ORDER BY r.id LIMIT 1) AS rewound_by
    FROM task_logs l WHERE ${where.join(' AND ')} ${page}`;
  return { sql, params, tail };
}

/** Rows of a read as records, oldest first. */
export function logRecords(rows: Row[], tail: boolean): LogRecord[] {
  const out = rows.map((r) => fromRow(r, !tail));
  return tail ? out.reverse() : out;
}
