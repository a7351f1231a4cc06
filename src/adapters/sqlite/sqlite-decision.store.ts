import type BetterSqlite3 from 'better-sqlite3';
import type { Decision, DecisionQuery } from '../../domain/history';
import type { DecisionPage, DecisionStore } from '../../ports/decision-store.port';
import { journalFilters, SqliteJournal } from './sqlite-journal';

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

const INSERT = `INSERT INTO decisions (id, task_id, ts, agent_id, decision, reasoning, metadata)
  VALUES (@id, @taskId, @ts, @agentId, @decision, @reasoning, @metadata)`;

/** Decision records in SQLite, indexed by (task, seq) and (task, agent, seq). */
export class SqliteDecisionStore implements DecisionStore {
  private readonly j: SqliteJournal;

  constructor(db: BetterSqlite3.Database) {
    this.j = new SqliteJournal(db, 'decisions');
  }

  async append(d: Decision): Promise<Decision> {
    const seq = this.j.insert(
      INSERT,
      {
        id: d.id,
        taskId: d.taskId,
        ts: d.ts,
        agentId: d.agentId,
        decision: d.decision,
        reasoning: d.reasoning,
        metadata: d.metadata === undefined ? null : JSON.stringify(d.metadata),
      },
      d.id,
      'decision',
    );
    const out: Decision = { ...d, seq };
    delete out.rewoundBy;
    return out;
  }

  async list(q: DecisionQuery): Promise<DecisionPage> {
    const { where, params } = journalFilters(q, 'ts');
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
