import { ConflictError } from '../../domain/errors';
import type {
  NewRuntimeRecord,
  RuntimeRecord,
  RuntimeRecordStore,
} from '../../ports/runtime-record-store.port';

const copy = (r: RuntimeRecord): RuntimeRecord => structuredClone(r);

/** Runtime records in this process only. */
export class MemoryRuntimeRecordStore implements RuntimeRecordStore {
  private readonly rows = new Map<string, RuntimeRecord>();
  private readonly at = (kind: string, id: string) => `${kind}\u0000${id}`;

  async insert(rec: NewRuntimeRecord): Promise<{ record: RuntimeRecord; created: boolean }> {
    // No await before the write: check and insert are one step, as in the SQL stores.
    if (rec.key !== undefined) {
      for (const r of this.rows.values()) {
        if (r.kind === rec.kind && r.key === rec.key) return { record: copy(r), created: false };
      }
    }
    if (this.rows.has(this.at(rec.kind, rec.id))) {
      throw new ConflictError(`${rec.kind} ${rec.id} already exists`);
    }
    const row: RuntimeRecord = { ...structuredClone(rec), version: 1 };
    this.rows.set(this.at(rec.kind, rec.id), row);
    return { record: copy(row), created: true };
  }

  async get(kind: string, id: string): Promise<RuntimeRecord | null> {
    const r = this.rows.get(this.at(kind, id));
    return r ? copy(r) : null;
  }

  async findByKey(kind: string, key: string): Promise<RuntimeRecord | null> {
    for (const r of this.rows.values()) if (r.kind === kind && r.key === key) return copy(r);
    return null;
  }

  async update(
    kind: string,
    id: string,
    expectedVersion: number,
    patch: { status: string; data: Record<string, unknown>; updatedAt: string },
  ): Promise<RuntimeRecord | null> {
    const r = this.rows.get(this.at(kind, id));
    if (!r || r.version !== expectedVersion) return null;
    const next = { ...r, ...structuredClone(patch), version: r.version + 1 };
    this.rows.set(this.at(kind, id), next);
    return copy(next);
  }

  async list(
    kind: string,
    filter: { status?: string[]; taskId?: string } = {},
  ): Promise<RuntimeRecord[]> {
    return [...this.rows.values()]
      .filter(
        (r) =>
          r.kind === kind &&
          (!filter.status || filter.status.includes(r.status)) &&
          (!filter.taskId || r.taskId === filter.taskId),
      )
      .map(copy);
  }

  async delete(kind: string, id: string): Promise<boolean> {
    return this.rows.delete(this.at(kind, id));
  }
}
