import type { ListTasksQuery } from '../../domain/task.schema';
import type { Task, TaskPatch, TaskStatus } from '../../domain/task';

/** A task as SQL adapters store it: snake_case columns, JSON as text, timestamps as ISO text. */
export interface TaskRow {
  id: string;
  name: string;
  description: string | null;
  owner: string;
  mode: Task['mode'];
  status: TaskStatus;
  metadata: string;
  sandbox: string | null;
  version: number;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  ended_at: string | null;
  result: string | null;
  error: string | null;
}

export const TASK_COLUMNS = [
  'id',
  'name',
  'description',
  'owner',
  'mode',
  'status',
  'metadata',
  'sandbox',
  'version',
  'created_at',
  'updated_at',
  'started_at',
  'ended_at',
  'result',
  'error',
] as const;

export const PATCH_COLUMN: Record<keyof TaskPatch, string> = {
  status: 'status',
  name: 'name',
  description: 'description',
  metadata: 'metadata',
  sandbox: 'sandbox',
  startedAt: 'started_at',
  endedAt: 'ended_at',
  result: 'result',
  error: 'error',
};
const JSON_FIELDS = new Set<keyof TaskPatch>(['metadata', 'sandbox', 'result']);

export const SORT_COLUMN = {
  createdAt: 'created_at',
  updatedAt: 'updated_at',
  name: 'name',
  status: 'status',
} as const;

/** The storable value of one patch field (JSON fields serialised, undefined → NULL). */
export function patchValue(key: keyof TaskPatch, value: unknown): unknown {
  if (value === undefined) return null;
  return JSON_FIELDS.has(key) ? JSON.stringify(value) : value;
}

/** Patch keys that map to columns, in a stable order (so statements can be cached by key set). */
export function patchKeys(patch: TaskPatch): (keyof TaskPatch)[] {
  return (Object.keys(patch) as (keyof TaskPatch)[]).filter((k) => k in PATCH_COLUMN).sort();
}

export function toRow(t: Task): TaskRow {
  return {
    id: t.id,
    name: t.name,
    description: t.description ?? null,
    owner: t.owner,
    mode: t.mode,
    status: t.status,
    metadata: JSON.stringify(t.metadata),
    sandbox: t.sandbox === undefined ? null : JSON.stringify(t.sandbox),
    version: t.version,
    created_at: t.createdAt,
    updated_at: t.updatedAt,
    started_at: t.startedAt ?? null,
    ended_at: t.endedAt ?? null,
    result: t.result === undefined ? null : JSON.stringify(t.result),
    error: t.error ?? null,
  };
}

export function fromRow(r: TaskRow): Task {
  const t: Task = {
    id: r.id,
    name: r.name,
    owner: r.owner,
    mode: r.mode,
    status: r.status,
    metadata: JSON.parse(r.metadata),
    version: r.version,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
  if (r.description !== null) t.description = r.description;
  if (r.sandbox !== null) t.sandbox = JSON.parse(r.sandbox);
  if (r.started_at !== null) t.startedAt = r.started_at;
  if (r.ended_at !== null) t.endedAt = r.ended_at;
  if (r.result !== null) t.result = JSON.parse(r.result);
  if (r.error !== null) t.error = r.error;
  return t;
}

/** LIKE pattern for a case-insensitive substring match with `\` as the escape character. */
export const likePattern = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * WHERE clause of a list query; `ph(value)` registers a parameter and returns its placeholder
 * (`?` for SQLite, `$n` for Postgres).
 */
export function listWhere(q: ListFilter, ph: (value: unknown) => string): string {
  const where = listConditions(q, ph);
  return where.length ? `WHERE ${where.join(' AND ')}` : '';
}

/** The filters a list and a search share. */
export type ListFilter = Partial<
  Pick<ListTasksQuery, 'status' | 'owner' | 'mode' | 'createdSince' | 'createdUntil'>
>;

/** The AND-ed conditions of `listWhere`, for callers that add their own. */
export function listConditions(q: ListFilter, ph: (value: unknown) => string): string[] {
  const where: string[] = [];
  if (q.status?.length) where.push(`status IN (${q.status.map((s) => ph(s)).join(', ')})`);
  if (q.owner) where.push(`owner = ${ph(q.owner)}`);
  if (q.mode) where.push(`mode = ${ph(q.mode)}`);
  if (q.createdSince) where.push(`created_at >= ${ph(new Date(q.createdSince).toISOString())}`);
  if (q.createdUntil) where.push(`created_at <= ${ph(new Date(q.createdUntil).toISOString())}`);
  return where;
}

/**
 * WHERE clause of a search: the text in name, description or metadata (`metadataText` is the
 * column as text, e.g. `metadata::text` on Postgres), AND the list filters. `like` is `LIKE`
 * (SQLite, case-insensitive for ASCII) or `ILIKE` (Postgres).
 */
export function searchWhere(
  q: ListFilter & { text: string },
  ph: (value: unknown) => string,
  like: 'LIKE' | 'ILIKE',
  metadataText: string,
): string {
  // One placeholder per use: SQLite's `?` are positional.
  const p = likePattern(q.text);
  const text = ['name', 'description', metadataText]
    .map((col) => `${col} ${like} ${ph(p)} ESCAPE '\\'`)
    .join(' OR ');
  return `WHERE (${text})${listConditions(q, ph)
    .map((c) => ` AND ${c}`)
    .join('')}`;
}

export function listOrder(q: Pick<ListTasksQuery, 'sort' | 'order'>): string {
  const dir = q.order === 'asc' ? 'ASC' : 'DESC';
  return `ORDER BY ${SORT_COLUMN[q.sort]} ${dir}, id ${dir}`;
}
