import type { Pool } from 'pg';
import type { ExecutionQuery, ExecutionRecord } from '../../domain/execution';
import type { ExecutionPage, ExecutionStore } from '../../ports/execution-store.port';
import { PostgresJournal } from './postgres-journal';
import { isoUtc, PG_LOCK_SPACE } from './postgres-tx';

interface Row {
  seq: number;
  id: string;
  task_id: string;
  agent_id: string | null;
  command: string;
  started_at: string;
  duration_ms: number;
  exit_code: number | null;
  timed_out: boolean;
  truncated: boolean;
  stdout_bytes: number;
  stderr_bytes: number;
  stdout_head: Buffer;
  stdout_tail: Buffer;
  stderr_head: Buffer;
  stderr_tail: Buffer;
  output_ref: string | null;
  rewound_by: string | null;
}

const SELECT = `seq::float8 AS seq, id, task_id, agent_id, command::text AS command,
  ${isoUtc('started_at')} AS started_at, duration_ms, exit_code, timed_out, truncated,
  stdout_bytes::float8 AS stdout_bytes, stderr_bytes::float8 AS stderr_bytes,
  stdout_head, stdout_tail, stderr_head, stderr_tail, output_ref, rewound_by`;

function fromRow(r: Row): ExecutionRecord {
  const e: ExecutionRecord = {
    id: r.id,
    taskId: r.task_id,
    command: JSON.parse(r.command),
    startedAt: r.started_at,
    durationMs: r.duration_ms,
    exitCode: r.exit_code,
    timedOut: r.timed_out,
    truncated: r.truncated,
    stdoutBytes: r.stdout_bytes,
    stderrBytes: r.stderr_bytes,
    stdoutHead: r.stdout_head.toString('utf8'),
    stdoutTail: r.stdout_tail.toString('utf8'),
    stderrHead: r.stderr_head.toString('utf8'),
    stderrTail: r.stderr_tail.toString('utf8'),
    seq: r.seq,
  };
  if (r.agent_id !== null) e.agentId = r.agent_id;
  if (r.output_ref !== null) e.outputRef = r.output_ref;
  if (r.rewound_by !== null) e.rewoundBy = r.rewound_by;
  return e;
}

const INSERT = `INSERT INTO executions (id, task_id, agent_id, command, started_at, duration_ms,
    exit_code, timed_out, truncated, stdout_bytes, stderr_bytes, stdout_head, stdout_tail,
    stderr_head, stderr_tail, output_ref)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
  RETURNING ${SELECT}`;

/** The executions journal in Postgres. Output excerpts are kept as UTF-8 bytes (they may hold NUL). */
export class PostgresExecutionStore implements ExecutionStore {
  private readonly j: PostgresJournal;

  constructor(private readonly pool: Pool) {
    this.j = new PostgresJournal(pool, 'executions', PG_LOCK_SPACE.executions, 'execution');
  }

  async record(e: ExecutionRecord): Promise<ExecutionRecord> {
    const row = await this.j.insert<Row>(e.taskId, e.id, INSERT, [
      e.id,
      e.taskId,
      e.agentId ?? null,
      JSON.stringify(e.command),
      e.startedAt,
      e.durationMs,
      e.exitCode,
      e.timedOut,
      e.truncated,
      e.stdoutBytes,
      e.stderrBytes,
      Buffer.from(e.stdoutHead, 'utf8'),
      Buffer.from(e.stdoutTail, 'utf8'),
      Buffer.from(e.stderrHead, 'utf8'),
      Buffer.from(e.stderrTail, 'utf8'),
      e.outputRef ?? null,
    ]);
    return fromRow(row);
  }

  async get(id: string): Promise<ExecutionRecord | null> {
    const { rows } = await this.pool.query<Row>(`SELECT ${SELECT} FROM executions WHERE id = $1`, [
      id,
    ]);
    return rows[0] ? fromRow(rows[0]) : null;
  }

  async list(q: ExecutionQuery): Promise<ExecutionPage> {
    const failed = q.failedOnly ? ['(timed_out OR exit_code IS NULL OR exit_code <> 0)'] : [];
    const { rows, total } = await this.j.page<Row>(SELECT, q, 'started_at', failed);
    return { items: rows.map(fromRow), total, limit: q.limit, offset: q.offset };
  }

  mark(taskId: string): Promise<number> {
    return this.j.mark(taskId);
  }

  markRewound(taskId: string, afterSeq: number, checkpointId: string): Promise<number> {
    return this.j.markRewound(taskId, afterSeq, checkpointId);
  }

  deleteForTask(taskId: string): Promise<number> {
    return this.j.deleteForTask(taskId);
  }
}
