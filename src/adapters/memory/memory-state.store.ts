import { serializeState, stateConflict, type StateDoc } from '../../domain/history';
import { DEFAULT_STATE_MAX_BYTES, type StateStore } from '../../ports/state-store.port';

/** In-process state documents. */
export class MemoryStateStore implements StateStore {
  private readonly docs = new Map<string, StateDoc>();

  constructor(private readonly maxBytes = DEFAULT_STATE_MAX_BYTES) {}

  async get(taskId: string): Promise<StateDoc | null> {
    const d = this.docs.get(taskId);
    return d ? structuredClone(d) : null;
  }

  async put(
    taskId: string,
    data: Record<string, unknown>,
    expectedVersion: number,
    updatedAt: string,
  ): Promise<StateDoc> {
    const text = serializeState(taskId, data, this.maxBytes);
    const current = this.docs.get(taskId)?.version ?? 0;
    if (current !== expectedVersion) throw stateConflict(taskId, expectedVersion, current);
    const doc: StateDoc = { taskId, version: current + 1, data: JSON.parse(text), updatedAt };
    this.docs.set(taskId, doc);
    return structuredClone(doc);
  }

  async delete(taskId: string): Promise<boolean> {
    return this.docs.delete(taskId);
  }
}
