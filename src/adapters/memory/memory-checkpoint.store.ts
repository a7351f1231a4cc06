import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotFoundError } from '../../domain/errors';
import type { Checkpoint } from '../../domain/history';
import type { CheckpointStore, PendingCheckpoint } from '../../ports/checkpoint-store.port';

/**
 * In-process checkpoints. Records live in memory; snapshot artifacts (if a snapshotter writes any)
 * go to a temporary directory per checkpoint, removed with it, and all of them when the adapters
 * are closed. Nothing survives the process, so there is never anything to sweep.
 */
export class MemoryCheckpointStore implements CheckpointStore {
  private readonly pending = new Map<string, PendingCheckpoint>();
  private readonly committed = new Map<string, Checkpoint>();
  private readonly dirs = new Map<string, string>();

  async begin(draft: { id: string; taskId: string }): Promise<PendingCheckpoint> {
    const artifactsDir = mkdtempSync(join(tmpdir(), `oct-${draft.id}-`));
    this.dirs.set(draft.id, artifactsDir);
    const p = { id: draft.id, taskId: draft.taskId, artifactsDir };
    this.pending.set(p.id, p);
    return { ...p };
  }

  private dropDir(id: string): void {
    const dir = this.dirs.get(id);
    if (dir) rmSync(dir, { recursive: true, force: true });
    this.dirs.delete(id);
  }

  async commit(cp: Checkpoint): Promise<Checkpoint> {
    if (!this.pending.delete(cp.id)) throw new NotFoundError('pending checkpoint', cp.id);
    this.committed.set(cp.id, structuredClone(cp));
    return structuredClone(cp);
  }

  async abort(id: string): Promise<void> {
    if (this.pending.delete(id)) this.dropDir(id);
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

  artifactsDir(cp: Checkpoint): string | undefined {
    return this.dirs.get(cp.id);
  }

  async delete(id: string): Promise<Checkpoint> {
    const c = this.committed.get(id);
    if (!c) throw new NotFoundError('checkpoint', id);
    this.committed.delete(id);
    this.dropDir(id);
    return c;
  }

  async deleteForTask(taskId: string): Promise<Checkpoint[]> {
    const gone = [...this.committed.values()].filter((c) => c.taskId === taskId);
    for (const c of gone) {
      this.committed.delete(c.id);
      this.dropDir(c.id);
    }
    for (const p of [...this.pending.values()]) {
      if (p.taskId !== taskId) continue;
      this.pending.delete(p.id);
      this.dropDir(p.id);
    }
    return gone;
  }

  async sweep(): Promise<string[]> {
    return [];
  }

  /** Removes every artifact directory (the records go with the process anyway). */
  close(): void {
    for (const id of [...this.dirs.keys()]) this.dropDir(id);
  }
}
