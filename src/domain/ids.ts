import { monotonicFactory } from 'ulid';

const next = monotonicFactory();

/**
 * Sortable, collision-free identifiers (ULID, monotonic within a millisecond in one process).
 * A prefix names the kind (`tsk_…`, `exe_…`) so an id pasted into the wrong field is caught.
 */
export function newId(prefix?: string): string {
  const id = next().toLowerCase();
  return prefix ? `${prefix}_${id}` : id;
}
