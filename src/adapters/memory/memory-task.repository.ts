import { NotFoundError, ConflictError } from '../../domain/errors';
import type { Task, TaskPatch, TaskStatus } from '../../domain/task';
import type { ListTasksQuery } from '../../domain/task.schema';
import {
  applyPatch,
  compareTasks,
  emptyStatusCounts,
  matchesQuery,
  versionConflict,
} from '../../domain/task-query';
import type {
  DurationStats,
  TaskPage,
  TaskRepository,
  TaskSearchQuery,
  TaskStats,
} from '../../ports/task-repository.port';

const clone = <T>(v: T): T => structuredClone(v);

/** In-process registry: a real driver for tests and embedding, not persisted. */
export class MemoryTaskRepository implements TaskRepository {
  private readonly tasks = new Map<string, Task>();

  async insert(task: Task): Promise<void> {
    if (this.tasks.has(task.id))
      throw new ConflictError(`task ${task.id} already exists`, { taskId: task.id });
    this.tasks.set(task.id, clone(task));
  }

  async insertMany(tasks: Task[]): Promise<void> {
    const ids = new Set<string>();
    for (const t of tasks) {
      if (this.tasks.has(t.id) || ids.has(t.id)) {
        throw new ConflictError(`task ${t.id} already exists`, { taskId: t.id });
      }
      ids.add(t.id);
    }
    for (const t of tasks) this.tasks.set(t.id, clone(t));
  }

  async findById(id: string): Promise<Task | null> {
    const t = this.tasks.get(id);
    return t ? clone(t) : null;
  }

  async update(
    id: string,
    expectedVersion: number,
    patch: TaskPatch,
    updatedAt: string,
  ): Promise<Task> {
    const current = this.tasks.get(id);
    if (!current) throw new NotFoundError('task', id);
    if (current.version !== expectedVersion)
      throw versionConflict(id, expectedVersion, current.version);
    const next = applyPatch(current, clone(patch), updatedAt);
    this.tasks.set(id, next);
    return clone(next);
  }

  async delete(id: string, expectedVersion?: number): Promise<void> {
    const current = this.tasks.get(id);
    if (!current) throw new NotFoundError('task', id);
    if (expectedVersion !== undefined && current.version !== expectedVersion) {
      throw versionConflict(id, expectedVersion, current.version);
    }
    this.tasks.delete(id);
  }

  async list(q: ListTasksQuery): Promise<TaskPage> {
    const all = [...this.tasks.values()].filter((t) => matchesQuery(t, q)).sort(compareTasks(q));
    return {
      items: all.slice(q.offset, q.offset + q.limit).map(clone),
      total: all.length,
      limit: q.limit,
      offset: q.offset,
    };
  }

  async existingIds(ids: string[]): Promise<string[]> {
    return [...new Set(ids)].filter((id) => this.tasks.has(id));
  }

  async search(q: TaskSearchQuery): Promise<TaskPage> {
    const needle = q.text.toLowerCase();
    const all = [...this.tasks.values()]
      .filter(
        (t) =>
          matchesQuery(t, q) &&
          [t.name, t.description ?? '', JSON.stringify(t.metadata)].some((s) =>
            s.toLowerCase().includes(needle),
          ),
      )
      .sort(compareTasks({ sort: q.sort ?? 'createdAt', order: q.order ?? 'desc' }));
    return {
      items: all.slice(q.offset, q.offset + q.limit).map(clone),
      total: all.length,
      limit: q.limit,
      offset: q.offset,
    };
  }

  async stats(filter: { owner?: string } = {}): Promise<TaskStats> {
    const byStatus = emptyStatusCounts();
    const owners = new Map<
      string,
      { owner: string; total: number; byStatus: Partial<Record<TaskStatus, number>> }
    >();
    const runs = new Map<TaskStatus, number[]>();
    let total = 0;
    for (const t of this.tasks.values()) {
      if (filter.owner && t.owner !== filter.owner) continue;
      total++;
      byStatus[t.status]++;
      const o = owners.get(t.owner) ?? { owner: t.owner, total: 0, byStatus: {} };
      o.total++;
      o.byStatus[t.status] = (o.byStatus[t.status] ?? 0) + 1;
      owners.set(t.owner, o);
      if (t.startedAt && t.endedAt) {
        const list = runs.get(t.status) ?? [];
        list.push(Date.parse(t.endedAt) - Date.parse(t.startedAt));
        runs.set(t.status, list);
      }
    }
    const durations: Partial<Record<TaskStatus, DurationStats>> = {};
    for (const [status, list] of runs) {
      durations[status] = {
        count: list.length,
        avgMs: list.reduce((a, b) => a + b, 0) / list.length,
        minMs: Math.min(...list),
        maxMs: Math.max(...list),
      };
    }
    const byOwner = [...owners.values()].sort(
      (a, b) => b.total - a.total || a.owner.localeCompare(b.owner),
    );
    return { total, byStatus, byOwner, durations };
  }
}
