import type { Task } from '../../domain/task';

/** What the list view shows of a task; the detail view fetches the rest. */
export interface TaskSummary {
  id: string;
  name: string;
  status: Task['status'];
  owner: string;
  mode: Task['mode'];
  version: number;
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  endedAt?: string;
  /** Set when the task has a sandbox (the image, or `default`). */
  image?: string;
  error?: string;
}

export function summarize(t: Task): TaskSummary {
  const s: TaskSummary = {
    id: t.id,
    name: t.name,
    status: t.status,
    owner: t.owner,
    mode: t.mode,
    version: t.version,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
  };
  if (t.startedAt) s.startedAt = t.startedAt;
  if (t.endedAt) s.endedAt = t.endedAt;
  if (t.sandbox) s.image = t.sandbox.image ?? 'default';
  if (t.error) s.error = t.error.slice(0, 300);
  return s;
}
