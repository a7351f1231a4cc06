import { Inject, Injectable } from '@nestjs/common';
import {
  decisionInputSchema,
  decisionQuerySchema,
  type Decision,
  type DecisionInput,
  type DecisionQueryInput,
} from '../../domain/history';
import { newId } from '../../domain/ids';
import { parseOrThrow } from '../../domain/validation';
import { CLOCK, type Clock } from '../../ports/clock.port';
import {
  DECISION_STORE,
  type DecisionPage,
  type DecisionStore,
} from '../../ports/decision-store.port';
import { TaskLookup } from './task-lookup';

/**
 * Structured agent decisions `{ts, agentId, decision, reasoning, metadata?}`.
 * @example
 * await decisions.record({ taskId, agentId: 'claude', decision: 'pin node 20', reasoning: 'CI image' });
 */
@Injectable()
export class DecisionsService {
  constructor(
    @Inject(DECISION_STORE) private readonly store: DecisionStore,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly lookup: TaskLookup,
  ) {}

  /** Validates first, then checks the task: a bad input or unknown task writes nothing. */
  async record(input: DecisionInput): Promise<Decision> {
    const d = parseOrThrow(decisionInputSchema, input);
    const task = await this.lookup.get(d.taskId);
    const decision: Decision = {
      id: newId('dec'),
      taskId: task.id,
      ts: this.clock.now().toISOString(),
      agentId: d.agentId,
      decision: d.decision,
      reasoning: d.reasoning,
    };
    if (d.metadata !== undefined) decision.metadata = d.metadata;
    return this.store.append(decision);
  }

  async list(query: DecisionQueryInput): Promise<DecisionPage> {
    const q = parseOrThrow(decisionQuerySchema, query);
    await this.lookup.get(q.taskId);
    return this.store.list(q);
  }
}
