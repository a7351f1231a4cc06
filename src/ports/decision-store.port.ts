import type { Decision, DecisionQuery } from '../domain/history';

/** DI token for {@link DecisionStore}. */
export const DECISION_STORE = Symbol('opencode-tools:DecisionStore');

export interface DecisionPage {
  items: Decision[];
  total: number;
  limit: number;
  offset: number;
}

/**
 * Structured decision records of agents, append-only. Implementations: SQLite (default), in-memory;
 * all pass `test/contract/decision-store.contract.ts`.
 *
 * @example
 * await decisions.append({ id: newId('dec'), taskId, ts, agentId: 'claude',
 *   decision: 'use pnpm', reasoning: 'lockfile is pnpm-lock.yaml' });
 */
export interface DecisionStore {
  /** @throws ConflictError on a duplicate id. Returns the record with its `seq`. */
  append(decision: Decision): Promise<Decision>;
  list(query: DecisionQuery): Promise<DecisionPage>;
  /** The highest `seq` of the task's decisions (0 when none). */
  mark(taskId: string): Promise<number>;
  /** Marks the task's decisions with `seq > afterSeq` (not yet rewound) as rewound by `checkpointId`. */
  markRewound(taskId: string, afterSeq: number, checkpointId: string): Promise<number>;
  deleteForTask(taskId: string): Promise<number>;
}
