import type BetterSqlite3 from 'better-sqlite3';
import type { ExecutionQuery, ExecutionRecord } from '../../domain/execution';
import type { ExecutionPage, ExecutionStore } from '../../ports/execution-store.port';
import { journalFilters, SqliteJournal } from './sqlite-journal';

interface Row {
  seq: number;
  id: string;
  task_id: string;
  agent_id: string | null;
  command: string;
  started_at: string;
  duration_ms: number;
  exit_code: number | null;
  timed_out: number;
  truncated: number;
  stdout_bytes: number;
  stderr_bytes: number;
  stdout_head: string;
  stdout_tail: string;
  stderr_head: string;
  stderr_tail: string;
  output_ref: string | null;
  rewound_by: string | null;
}

function fromRow(r: Row): ExecutionRecord {
  const e: ExecutionRecord = {
    id: r.id,
    taskId: r.task_id,
    command: JSON.parse(r.command),
    startedAt: r.started_at,
    durationMs: r.duration_ms,
    exitCode: r.exit_code,
    timedOut: !!r.timed_out,
    truncated: !!r.truncated,
    stdoutBytes: r.stdout_bytes,
    stderrBytes: r.stderr_bytes,
    stdoutHead: r.stdout_head,
    stdoutTail: r.stdout_tail,
    stderrHead: r.stderr_head,
    stderrTail: r.stderr_tail,
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
  VALUES (@id, @taskId, @agentId, @command, @startedAt, @durationMs, @exitCode, @timedOut,
    @truncated, @stdoutBytes, @stderrBytes, @stdoutHead, @stdoutTail, @stderrHead, @stderrTail,
    @outputRef)`;

/** The executions journal in SQLite. */
export class SqliteExecutionStore implements ExecutionStore {
  private readonly j: SqliteJournal;

  constructor(db: BetterSqlite3.Database) {
    this.j = new SqliteJournal(db, 'executions');
  }

  async record(e: ExecutionRecord): Promise<ExecutionRecord> {
    const seq = this.j.insert(
      INSERT,
      {
        id: e.id,
        taskId: e.taskId,
        agentId: e.agentId ?? null,
        command: JSON.stringify(e.command),
        startedAt: e.startedAt,
        durationMs: e.durationMs,
        exitCode: e.exitCode,
        timedOut: e.timedOut ? 1 : 0,
        truncated: e.truncated ? 1 : 0,
        stdoutBytes: e.stdoutBytes,
        stderrBytes: e.stderrBytes,
        stdoutHead: e.stdoutHead,
        stdoutTail: e.stdoutTail,
        stderrHead: e.stderrHead,
        stderrTail: e.stderrTail,
        outputRef: e.outputRef ?? null,
      },
      e.id,
      'execution',
    );
    const out: ExecutionRecord = { ...e, seq };
    delete out.rewoundBy;
    return out;
  }

  async get(id: string): Promise<ExecutionRecord | null> {
    const r = this.j.stmt('SELECT * FROM executions WHERE id = ?').get(id) as Row | undefined;
    return r ? fromRow(r) : null;
  }

  async list(q: ExecutionQuery): Promise<ExecutionPage> {
    const { where, params } = journalFilters(q, 'started_at');
    if (q.failedOnly) where.push('(timed_out = 1 OR exit_code IS NULL OR exit_code <> 0)');
    const { rows, total } = this.j.page<Row>(where, params, q);
    return { items: rows.map(fromRow), total, limit: q.limit, offset: q.offset };
  }

  async mark(taskId: string): Promise<number> {
    return this.j.mark(taskId);
  }

  async markRewound(taskId: string, afterSeq: number, checkpointId: string): Promise<number> {
    return this.j.markRewound(taskId, afterSeq, checkpointId);
  }

  async deleteForTask(taskId: string): Promise<number> {
    return this.j.deleteForTask(taskId);
  }
}
