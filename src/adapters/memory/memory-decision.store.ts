import type { Decision, DecisionQuery } from '../../domain/history';
import type { DecisionPage, DecisionStore } from '../../ports/decision-store.port';
import { MemoryJournal, page } from './memory-journal';

/** In-process decision records. */
export class MemoryDecisionStore implements DecisionStore {
  private readonly journal = new MemoryJournal<Decision>();

  async append(d: Decision): Promise<Decision> {
    return this.journal.append(d, 'decision');
  }

  async list(q: DecisionQuery): Promise<DecisionPage> {
    const since = q.since && new Date(q.since).toISOString();
    const until = q.until && new Date(q.until).toISOString();
    const all = this.journal.select(
      (d) =>
        d.taskId === q.taskId &&
        (!q.agentId || d.agentId === q.agentId) &&
        (!since || d.ts >= since) &&
        (!until || d.ts <= until) &&
        (q.includeRewound || !d.rewoundBy),
    );
    return page(all, q.offset, q.limit, q.order);
  }

  async mark(taskId: string): Promise<number> {
    return this.journal.mark(taskId);
  }

  async markRewound(taskId: string, afterSeq: number, checkpointId: string): Promise<number> {
    return this.journal.markRewound(taskId, afterSeq, checkpointId);
  }

  async deleteForTask(taskId: string): Promise<number> {
    return this.journal.deleteForTask(taskId);
  }
}
