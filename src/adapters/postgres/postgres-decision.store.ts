import type { Pool } from 'pg';
import type { Decision, DecisionQuery } from '../../domain/history';
import type { DecisionPage, DecisionStore } from '../../ports/decision-store.port';
import { PostgresJournal } from './postgres-journal';
import { isoUtc, PG_LOCK_SPACE } from './postgres-tx';

interface Row {
  seq: number;
  id: string;
  task_id: string;
  ts: string;
  agent_id: string;
  decision: string;
  reasoning: string;
  metadata: string | null;
  rewound_by: string | null;
}

const SELECT = `seq::float8 AS seq, id, task_id, ${isoUtc('ts')} AS ts, agent_id, decision, reasoning,
  metadata::text AS metadata, rewound_by`;

function fromRow(r: Row): Decision {
  const d: Decision = {
    id: r.id,
    taskId: r.task_id,
    ts: r.ts,
    agentId: r.agent_id,
    decision: r.decision,
    reasoning: r.reasoning,
    seq: r.seq,
  };
  if (r.metadata !== null) d.metadata = JSON.parse(r.metadata);
  if (r.rewound_by !== null) d.rewoundBy = r.rewound_by;
  return d;
}

/** Decision records in Postgres, indexed by (task, seq) and (task, agent, seq). */
export class PostgresDecisionStore implements DecisionStore {
  private readonly j: PostgresJournal;

  constructor(pool: Pool) {
    this.j = new PostgresJournal(pool, 'decisions', PG_LOCK_SPACE.decisions, 'decision');
  }

  async append(d: Decision): Promise<Decision> {
    const row = await this.j.insert<Row>(
      d.taskId,
      d.id,
      `INSERT INTO decisions (id, task_id, ts, agent_id, decision, reasoning, metadata)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${SELECT}`,
      [
        d.id,
        d.taskId,
        d.ts,
        d.agentId,
        d.decision,
        d.reasoning,
        d.metadata === undefined ? null : JSON.stringify(d.metadata),
      ],
    );
    return fromRow(row);
  }

  async list(q: DecisionQuery): Promise<DecisionPage> {
    const { rows, total } = await this.j.page<Row>(SELECT, q, 'ts');
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
