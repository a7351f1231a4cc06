import type { Checkpoint } from '../domain/history';

/** DI token for {@link CheckpointStore}. */
export const CHECKPOINT_STORE = Symbol('opencode-tools:CheckpointStore');

export interface PendingCheckpoint {
  id: string;
  taskId: string;
  /** A private directory for snapshot artifacts, moved into place by `commit` (absent: no files). */
  artifactsDir?: string;
}

/**
 * Checkpoint records. Creation is two-phase so that a crash part-way leaves nothing visible:
 * `begin` reserves an invisible checkpoint (and a private artifacts directory), `commit` makes it
 * visible with all its content at once, `sweep` (run at start-up) removes what crashed creators left.
 * Implementations: SQLite + files (default), in-memory; all pass `test/contract/checkpoint-store.contract.ts`.
 */
export interface CheckpointStore {
  begin(draft: { id: string; taskId: string }): Promise<PendingCheckpoint>;
  /** Publishes the checkpoint begun with the same id. @throws NotFoundError if it was swept or aborted. */
  commit(checkpoint: Checkpoint): Promise<Checkpoint>;
  /** Drops a begun checkpoint and its artifacts (no-op when unknown). */
  abort(id: string): Promise<void>;
  get(id: string): Promise<Checkpoint | null>;
  /** Oldest first. */
  list(taskId: string): Promise<Checkpoint[]>;
  /** Where a committed checkpoint's artifacts are (absent when it has none). */
  artifactsDir(checkpoint: Checkpoint): string | undefined;
  /** @throws NotFoundError. Returns the removed checkpoint so its snapshot can be released. */
  delete(id: string): Promise<Checkpoint>;
  deleteForTask(taskId: string): Promise<Checkpoint[]>;
  /** Removes leftovers of creations whose process died. Returns the ids removed. */
  sweep(): Promise<string[]>;
}
