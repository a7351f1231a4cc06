import type { ListTasksQuery } from '../domain/task.schema';
import type { Task, TaskPatch, TaskStatus } from '../domain/task';

/** DI token for {@link TaskRepository}. Symbols cannot collide inside a host application. */
export const TASK_REPOSITORY = Symbol('opencode-tools:TaskRepository');

export interface TaskPage {
  items: Task[];
  total: number;
  limit: number;
  offset: number;
}

export interface DurationStats {
  count: number;
  avgMs: number | null;
  minMs: number | null;
  maxMs: number | null;
}

export interface TaskStats {
  total: number;
  byStatus: Record<TaskStatus, number>;
  byOwner: { owner: string; total: number; byStatus: Partial<Record<TaskStatus, number>> }[];
  /** Run time (startedAt → endedAt) of finished tasks, per terminal status. */
  durations: Partial<Record<TaskStatus, DurationStats>>;
}

/**
 * A text search, narrowed by the same filters as a list (all optional, combined with AND) and
 * ordered like one (default: newest first).
 */
export interface TaskSearchQuery extends Partial<
  Pick<
    ListTasksQuery,
    'status' | 'owner' | 'mode' | 'createdSince' | 'createdUntil' | 'sort' | 'order'
  >
> {
  text: string;
  limit: number;
  offset: number;
}

/**
 * The task registry. Implementations: SQLite (default), in-memory (tests, embedding), Postgres.
 * All must pass `test/contract/task-repository.contract.ts`.
 */
export interface TaskRepository {
  insert(task: Task): Promise<void>;
  /** Inserts all or none. */
  insertMany(tasks: Task[]): Promise<void>;
  findById(id: string): Promise<Task | null>;
  /**
   * Applies `patch` (only the fields present; an explicit `undefined` clears an optional field)
   * if the stored version equals `expectedVersion`; bumps the version and `updatedAt`.
   * @throws NotFoundError when the task does not exist, ConflictError on a version mismatch.
   */
  update(id: string, expectedVersion: number, patch: TaskPatch, updatedAt: string): Promise<Task>;
  /** @throws NotFoundError, ConflictError (when `expectedVersion` is given and differs). */
  delete(id: string, expectedVersion?: number): Promise<void>;
  list(query: ListTasksQuery): Promise<TaskPage>;
  /**
   * The ids among `ids` that exist, in no particular order: one indexed lookup per id, for
   * watchers that must notice deletions made by other processes without listing every task.
   */
  existingIds(ids: string[]): Promise<string[]>;
  /**
   * Case-insensitive substring search over name, description and metadata (JSON text), within the
   * tasks that match the optional list filters.
   */
  search(query: TaskSearchQuery): Promise<TaskPage>;
  stats(filter?: { owner?: string }): Promise<TaskStats>;
}
