import type { ExecutionQuery, ExecutionRecord } from '../../domain/execution';
import type { ExecutionPage, ExecutionStore } from '../../ports/execution-store.port';
import { MemoryJournal, page } from './memory-journal';

export const isFailedRun = (r: ExecutionRecord) => r.timedOut || r.exitCode !== 0;

/** In-process executions journal. */
export class MemoryExecutionStore implements ExecutionStore {
  private readonly journal = new MemoryJournal<ExecutionRecord>();

  async record(rec: ExecutionRecord): Promise<ExecutionRecord> {
    return this.journal.append(rec, 'execution');
  }

  async get(id: string): Promise<ExecutionRecord | null> {
    return this.journal.get(id);
  }

  async list(q: ExecutionQuery): Promise<ExecutionPage> {
    const since = q.since && new Date(q.since).toISOString();
    const until = q.until && new Date(q.until).toISOString();
    const all = this.journal.select(
      (r) =>
        r.taskId === q.taskId &&
        (!q.agentId || r.agentId === q.agentId) &&
        (!since || r.startedAt >= since) &&
        (!until || r.startedAt <= until) &&
        (!q.failedOnly || isFailedRun(r)) &&
        (q.includeRewound || !r.rewoundBy),
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
