import type { StateDoc } from '../domain/history';

/** DI token for {@link StateStore}. */
export const STATE_STORE = Symbol('opencode-tools:StateStore');

/** Largest state document by default (bytes of JSON); `OPENCODE_STATE_MAX_BYTES` changes it. */
export const DEFAULT_STATE_MAX_BYTES = 1024 * 1024;

/**
 * The latest state document of each task. Every write is atomic (all of it or none) and checked
 * against the version the writer read. Implementations: SQLite (default), in-memory; all pass
 * `test/contract/state-store.contract.ts`.
 *
 * @example
 * const doc = await state.get(taskId);                 // null before the first write
 * await state.put(taskId, { step: 3 }, doc?.version ?? 0, new Date().toISOString());
 */
export interface StateStore {
  get(taskId: string): Promise<StateDoc | null>;
  /**
   * Replaces the document if its current version equals `expectedVersion` (0 = "must not exist yet").
   * @throws ConflictError on a version mismatch; ValidationError when the JSON exceeds the size limit.
   */
  put(
    taskId: string,
    data: Record<string, unknown>,
    expectedVersion: number,
    updatedAt: string,
  ): Promise<StateDoc>;
  /** Removes the document; false when there was none. */
  delete(taskId: string): Promise<boolean>;
}
