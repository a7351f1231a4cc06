import type { ListTasksQuery } from './task.schema';
import type { Task, TaskPatch, TaskStatus } from './task';
import { ConflictError } from './errors';
import { TASK_STATUSES } from './task';

/** Applies a patch the same way every adapter must: keys present are written, others kept. */
export function applyPatch(task: Task, patch: TaskPatch, updatedAt: string): Task {
  const next: Task = { ...task, updatedAt, version: task.version + 1 };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) delete (next as unknown as Record<string, unknown>)[key];
    else (next as unknown as Record<string, unknown>)[key] = value;
  }
  return next;
}

export function versionConflict(id: string, expected: number, current: number): ConflictError {
  return new ConflictError(
    `task ${id} was changed by someone else (you had version ${expected}, it is now ${current}); re-read it and retry`,
    { taskId: id, expectedVersion: expected, currentVersion: current },
  );
}

export function emptyStatusCounts(): Record<TaskStatus, number> {
  return Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
}

/** Reference implementation of list filtering and ordering, used by the in-memory adapter. */
export function matchesQuery(
  task: Task,
  q: Partial<Pick<ListTasksQuery, 'status' | 'owner' | 'mode' | 'createdSince' | 'createdUntil'>>,
): boolean {
  if (q.status && q.status.length && !q.status.includes(task.status)) return false;
  if (q.owner && task.owner !== q.owner) return false;
  if (q.mode && task.mode !== q.mode) return false;
  if (q.createdSince && task.createdAt < new Date(q.createdSince).toISOString()) return false;
  if (q.createdUntil && task.createdAt > new Date(q.createdUntil).toISOString()) return false;
  return true;
}

export function compareTasks(q: Pick<ListTasksQuery, 'sort' | 'order'>) {
  const dir = q.order === 'asc' ? 1 : -1;
  return (a: Task, b: Task): number => {
    const av = a[q.sort];
    const bv = b[q.sort];
    if (av < bv) return -dir;
    if (av > bv) return dir;
    return a.id < b.id ? -dir : a.id > b.id ? dir : 0;
  };
}
