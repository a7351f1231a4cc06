/** DI token for {@link RuntimeRecordStore}. */
export const RUNTIME_RECORD_STORE = Symbol('opencode-tools:RuntimeRecordStore');

/**
 * A small document the runtime keeps beside the tasks: a running (re-attachable) execution, and
 * later warm-pool membership. Shared through the database, so any instance sees them.
 */
export interface RuntimeRecord {
  /** What it is, e.g. `execution`. */
  kind: string;
  id: string;
  taskId?: string;
  /** Unique per kind when set (an idempotency key). */
  key?: string;
  status: string;
  data: Record<string, unknown>;
  /** 1 on insert, +1 per update: updates are compare-and-set on it. */
  version: number;
  updatedAt: string;
}

export type NewRuntimeRecord = Omit<RuntimeRecord, 'version'>;

/**
 * Implementations: memory, SQLite, Postgres; all pass `test/contract/runtime-record-store.contract.ts`.
 * @example
 * const { record, created } = await records.insert({ kind: 'execution', id, key: 'run-1',
 *   status: 'running', data: {}, updatedAt: new Date().toISOString() });
 * if (!created) return record; // an earlier call with the same key
 */
export interface RuntimeRecordStore {
  /**
   * Inserts the record; when its `key` is already taken by a record of the same kind, inserts
   * nothing and returns that record with `created: false`.
   * @throws ConflictError when a record with this kind and id exists.
   */
  insert(rec: NewRuntimeRecord): Promise<{ record: RuntimeRecord; created: boolean }>;
  get(kind: string, id: string): Promise<RuntimeRecord | null>;
  findByKey(kind: string, key: string): Promise<RuntimeRecord | null>;
  /** Replaces status and data if the version is still `expectedVersion`; null otherwise. */
  update(
    kind: string,
    id: string,
    expectedVersion: number,
    patch: { status: string; data: Record<string, unknown>; updatedAt: string },
  ): Promise<RuntimeRecord | null>;
  list(kind: string, filter?: { status?: string[]; taskId?: string }): Promise<RuntimeRecord[]>;
  delete(kind: string, id: string): Promise<boolean>;
}
