import type { Pool, PoolClient } from 'pg';
import type { DumpRecord } from '../../domain/dump';
import { ConflictError } from '../../domain/errors';
import type { Checkpoint, Decision } from '../../domain/history';
import type { ExecutionRecord } from '../../domain/execution';
import type { LockGrant } from '../../domain/lock';
import type { DumpImporter, DumpImportOptions } from '../../ports/dump-importer.port';
import { TASK_COLUMNS, toRow } from '../shared/task-row';
import { toLogRow } from './postgres-log-rows';
import { inTransaction, nulTextError, pgCode, UNIQUE_VIOLATION } from './postgres-tx';

/** Tables that make a target "not empty" (with what the refusal calls them). */
const DATA_TABLES = [
  ['tasks', 'tasks'],
  ['task_state', 'state documents'],
  ['task_logs', 'log entries'],
  ['decisions', 'decisions'],
  ['executions', 'executions'],
  ['checkpoints', 'checkpoints'],
  ['lock_grants', 'leases'],
] as const;

const INSERT_TASK = `INSERT INTO tasks (${TASK_COLUMNS.join(', ')})
  VALUES (${TASK_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`;

const INSERT_DECISION = `INSERT INTO decisions
    (seq, id, task_id, ts, agent_id, decision, reasoning, metadata, rewound_by)
  OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;

const INSERT_EXECUTION = `INSERT INTO executions (seq, id, task_id, agent_id, command, started_at,
    duration_ms, exit_code, timed_out, truncated, stdout_bytes, stderr_bytes, stdout_head,
    stdout_tail, stderr_head, stderr_tail, output_ref, rewound_by)
  OVERRIDING SYSTEM VALUE
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`;

const INSERT_LOGS = `INSERT INTO task_logs (task_id, pos, ts, level, message, message_json, data, bytes)
  SELECT $1, $2 + u.o - 1, u.ts, u.level, u.message, u.message_json::json, u.data::json, u.bytes
  FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[])
    WITH ORDINALITY AS u(ts, level, message, message_json, data, bytes, o)`;

const ms = (iso: string) => Date.parse(iso);

/**
 * Loads a dump into Postgres in one transaction. Journal `seq`s are inserted as they were
 * (`OVERRIDING SYSTEM VALUE`) and the identity sequences moved past them (`setval`), as is the
 * fencing-token sequence, so new records and grants keep growing from where the source stopped.
 * Log entries get their dump index as `pos`; `task_log_heads` is written per task at the end.
 */
export class PostgresDumpImporter implements DumpImporter {
  constructor(private readonly pool: Pool) {}

  importDump(records: AsyncIterable<DumpRecord>, opts: DumpImportOptions): Promise<void> {
    return inTransaction(this.pool, async (c) => {
      if (!opts.force) await this.assertEmpty(c);
      const heads = new Map<string, { next: number; bytes: number }>();
      let maxToken = 0;
      for await (const r of records) {
        try {
          await this.write(c, r, heads);
        } catch (err) {
          throw this.explain(err, r);
        }
        if (r.type === 'fencing') maxToken = Math.max(maxToken, r.maxToken);
        if (r.type === 'lock') maxToken = Math.max(maxToken, r.grant.token);
      }
      for (const [taskId, h] of heads) {
        await c.query(
          `INSERT INTO task_log_heads (task_id, next_pos, bytes) VALUES ($1, $2, $3)
           ON CONFLICT (task_id) DO UPDATE SET next_pos = EXCLUDED.next_pos, bytes = EXCLUDED.bytes`,
          [taskId, h.next, h.bytes],
        );
      }
      // Sequences are not transactional: if the COMMIT below fails they stay advanced, which
      // only leaves a gap in numbers that are never reused anyway.
      await this.raiseSequence(c, `pg_get_serial_sequence('decisions', 'seq')`, 'decisions');
      await this.raiseSequence(c, `pg_get_serial_sequence('executions', 'seq')`, 'executions');
      await this.raiseSequence(c, `'lock_fencing_tokens'`, undefined, maxToken);
    });
  }

  private async assertEmpty(c: PoolClient): Promise<void> {
    const found: string[] = [];
    for (const [table, what] of DATA_TABLES) {
      const { rows } = await c.query<{ n: number }>(`SELECT COUNT(*)::int AS n FROM ${table}`);
      if (rows[0].n) found.push(`${rows[0].n} ${what}`);
    }
    if (found.length) {
      throw new ConflictError(
        `the target database is not empty (${found.join(', ')}); import into an empty database, or pass --force to add the dump to what is there (any id that exists on both sides aborts the whole import)`,
        { found },
      );
    }
  }

  /** Moves a sequence past `floor` and past the largest value in `table.seq`; never back. */
  private async raiseSequence(
    c: PoolClient,
    seqExpr: string,
    table: string | undefined,
    floor = 0,
  ): Promise<void> {
    const max = table ? `(SELECT COALESCE(MAX(seq), 0) FROM ${table})` : '0';
    await c.query(
      `WITH s AS (SELECT ${seqExpr}::regclass AS seq),
            v AS (SELECT GREATEST($1::bigint, ${max}, COALESCE(pg_sequence_last_value(s.seq), 0)) AS v
                  FROM s)
       SELECT setval(s.seq, v.v) FROM s, v WHERE v.v > 0`,
      [floor],
    );
  }

  private async write(
    c: PoolClient,
    r: DumpRecord,
    heads: Map<string, { next: number; bytes: number }>,
  ): Promise<void> {
    switch (r.type) {
      case 'task': {
        const row = toRow(r.task);
        await c.query(
          INSERT_TASK,
          TASK_COLUMNS.map((k) => row[k]),
        );
        return;
      }
      case 'state':
        await c.query(
          'INSERT INTO task_state (task_id, version, data, updated_at) VALUES ($1, $2, $3, $4)',
          [r.state.taskId, r.state.version, JSON.stringify(r.state.data), r.state.updatedAt],
        );
        return;
      case 'logs': {
        const rows = r.entries.map(toLogRow);
        await c.query(INSERT_LOGS, [
          r.taskId,
          r.from,
          rows.map((x) => x.ts),
          rows.map((x) => x.level),
          rows.map((x) => x.message),
          rows.map((x) => x.messageJson),
          rows.map((x) => x.data),
          rows.map((x) => x.bytes),
        ]);
        const h = heads.get(r.taskId) ?? { next: 0, bytes: 0 };
        h.next = Math.max(h.next, r.from + rows.length);
        for (const x of rows) h.bytes += x.bytes;
        heads.set(r.taskId, h);
        return;
      }
      case 'logRewind':
        await c.query(
          'INSERT INTO task_log_rewinds (task_id, from_pos, to_pos, checkpoint_id) VALUES ($1, $2, $3, $4)',
          [r.taskId, r.from, r.to, r.checkpointId],
        );
        return;
      case 'decision':
        await c.query(INSERT_DECISION, decisionParams(r.decision));
        return;
      case 'execution':
        await c.query(INSERT_EXECUTION, executionParams(r.execution));
        return;
      case 'checkpoint':
        await c.query(
          `INSERT INTO checkpoints (id, task_id, status, owner, created_at, body)
           VALUES ($1, $2, 'ready', 'import', $3, $4)`,
          checkpointParams(r.checkpoint),
        );
        return;
      case 'lock':
        await c.query(
          `INSERT INTO lock_grants
             (resource, holder, mode, token, count, ttl_ms, acquired_at, renewed_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          lockParams(r.grant),
        );
        return;
      default:
        return; // header, fencing, end: checked by the reader, applied at the end
    }
  }

  /** A clash names the record; text Postgres cannot hold names the field. */
  private explain(err: unknown, r: DumpRecord): unknown {
    if (pgCode(err) === UNIQUE_VIOLATION) {
      const detail = (err as { detail?: string }).detail ?? (err as Error).message;
      return new ConflictError(
        `cannot import ${describe(r)}: it already exists in the target (${detail}); nothing was imported`,
        { record: r.type },
      );
    }
    return nulTextError(err, describe(r));
  }
}

function describe(r: DumpRecord): string {
  switch (r.type) {
    case 'task':
      return `task ${r.task.id}`;
    case 'state':
      return `the state of task ${r.state.taskId}`;
    case 'logs':
      return `log entries ${r.from}… of task ${r.taskId}`;
    case 'logRewind':
      return `a rewound log range of task ${r.taskId}`;
    case 'decision':
      return `decision ${r.decision.id} (seq ${r.decision.seq})`;
    case 'execution':
      return `execution ${r.execution.id} (seq ${r.execution.seq})`;
    case 'checkpoint':
      return `checkpoint ${r.checkpoint.id}`;
    case 'lock':
      return `the lease of ${r.grant.holder} on ${r.grant.resource}`;
    default:
      return `the ${r.type} record`;
  }
}

function decisionParams(d: Decision): unknown[] {
  return [
    d.seq,
    d.id,
    d.taskId,
    d.ts,
    d.agentId,
    d.decision,
    d.reasoning,
    d.metadata === undefined ? null : JSON.stringify(d.metadata),
    d.rewoundBy ?? null,
  ];
}

function executionParams(e: ExecutionRecord): unknown[] {
  return [
    e.seq,
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
    e.rewoundBy ?? null,
  ];
}

function checkpointParams(cp: Checkpoint): unknown[] {
  return [cp.id, cp.taskId, cp.createdAt, JSON.stringify(cp)];
}

function lockParams(g: LockGrant): unknown[] {
  return [
    g.resource,
    g.holder,
    g.mode,
    g.token,
    g.count,
    g.ttlMs,
    ms(g.acquiredAt),
    ms(g.renewedAt),
    ms(g.expiresAt),
  ];
}
