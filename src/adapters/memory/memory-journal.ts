import { ConflictError } from '../../domain/errors';

/** Shared core of the in-memory decision and execution journals: append-only, seq-numbered. */
export class MemoryJournal<
  T extends { id: string; taskId: string; seq?: number; rewoundBy?: string },
> {
  private readonly items: T[] = [];
  private seq = 0;

  append(item: T, kind: string): T {
    if (this.items.some((i) => i.id === item.id)) {
      throw new ConflictError(`${kind} ${item.id} already exists`, { id: item.id });
    }
    const stored = { ...structuredClone(item), seq: ++this.seq };
    delete stored.rewoundBy;
    this.items.push(stored);
    return structuredClone(stored);
  }

  get(id: string): T | null {
    const i = this.items.find((x) => x.id === id);
    return i ? structuredClone(i) : null;
  }

  select(pred: (i: T) => boolean): T[] {
    return this.items.filter(pred).map((i) => structuredClone(i));
  }

  mark(taskId: string): number {
    let m = 0;
    for (const i of this.items) if (i.taskId === taskId && i.seq! > m) m = i.seq!;
    return m;
  }

  markRewound(taskId: string, afterSeq: number, by: string): number {
    let n = 0;
    for (const i of this.items) {
      if (i.taskId === taskId && i.seq! > afterSeq && !i.rewoundBy) {
        i.rewoundBy = by;
        n++;
      }
    }
    return n;
  }

  deleteForTask(taskId: string): number {
    let n = 0;
    for (let k = this.items.length - 1; k >= 0; k--) {
      if (this.items[k].taskId === taskId) {
        this.items.splice(k, 1);
        n++;
      }
    }
    return n;
  }
}

export function page<T>(all: T[], offset: number, limit: number, order: 'asc' | 'desc') {
  const sorted = order === 'desc' ? [...all].reverse() : all;
  return { items: sorted.slice(offset, offset + limit), total: all.length, limit, offset };
}
