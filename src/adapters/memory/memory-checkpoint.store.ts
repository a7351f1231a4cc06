import { NotFoundError } from '../../domain/errors';
import type { Checkpoint } from '../../domain/history';
import type { CheckpointStore, PendingCheckpoint } from '../../ports/checkpoint-store.port';

/** In-process checkpoints. Nothing survives the process, so there is never anything to sweep. */
export class MemoryCheckpointStore implements CheckpointStore {
  private readonly pending = new Map<string, PendingCheckpoint>();
  private readonly committed = new Map<string, Checkpoint>();

  async begin(draft: { id: string; taskId: string }): Promise<PendingCheckpoint> {
    const p = { id: draft.id, taskId: draft.taskId };
    this.pending.set(p.id, p);
    return { ...p };
  }

  async commit(cp: Checkpoint): Promise<Checkpoint> {
    if (!this.pending.delete(cp.id)) throw new NotFoundError('pending checkpoint', cp.id);
    this.committed.set(cp.id, structuredClone(cp));
    return structuredClone(cp);
  }

  async abort(id: string): Promise<void> {
    this.pending.delete(id);
  }

  async get(id: string): Promise<Checkpoint | null> {
    const c = this.committed.get(id);
    return c ? structuredClone(c) : null;
  }

  async list(taskId: string): Promise<Checkpoint[]> {
    return [...this.committed.values()]
      .filter((c) => c.taskId === taskId)
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((c) => structuredClone(c));
  }

  artifactsDir(): string | undefined {
    return undefined;
  }

  async delete(id: string): Promise<Checkpoint> {
    const c = this.committed.get(id);
    if (!c) throw new NotFoundError('checkpoint', id);
    this.committed.delete(id);
    return c;
  }

  async deleteForTask(taskId: string): Promise<Checkpoint[]> {
    const gone = [...this.committed.values()].filter((c) => c.taskId === taskId);
    for (const c of gone) this.committed.delete(c.id);
    for (const p of [...this.pending.values()]) if (p.taskId === taskId) this.pending.delete(p.id);
    return gone;
  }

  async sweep(): Promise<string[]> {
    return [];
  }
}
