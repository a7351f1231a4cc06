import { newId } from '../../src/domain/ids';
import type { Task } from '../../src/domain/task';

let tick = Date.parse('2026-01-01T00:00:00.000Z');

/** A valid task with distinct, increasing timestamps; override any field. */
export function makeTask(over: Partial<Task> = {}): Task {
  const at = new Date((tick += 1000)).toISOString();
  return {
    id: newId('tsk'),
    name: 'task',
    owner: 'alice',
    mode: 'exclusive',
    status: 'pending',
    metadata: {},
    version: 1,
    createdAt: at,
    updatedAt: at,
    ...over,
  };
}
