import { DomainError } from '../../src/domain/errors';
import {
  assertTransition,
  canTransition,
  TASK_STATUSES,
  TRANSITIONS,
  type TaskStatus,
} from '../../src/domain/task';

const LEGAL: [TaskStatus, TaskStatus][] = [
  ['pending', 'running'],
  ['pending', 'cancelled'],
  ['running', 'completed'],
  ['running', 'failed'],
  ['running', 'cancelled'],
];

describe('transition table', () => {
  const all = TASK_STATUSES.flatMap((from) =>
    TASK_STATUSES.map((to) => [from, to] as [TaskStatus, TaskStatus]),
  );

  it.each(all)('%s -> %s is legal only if listed', (from, to) => {
    const legal = LEGAL.some(([f, t]) => f === from && t === to);
    expect(canTransition(from, to)).toBe(legal);
    if (legal) {
      expect(() => assertTransition({ id: 't1', status: from }, to)).not.toThrow();
    } else {
      let err: unknown;
      try {
        assertTransition({ id: 't1', status: from }, to);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DomainError);
      const d = err as DomainError;
      expect(d.code).toBe('ILLEGAL_TRANSITION');
      expect(d.message).toContain(`is ${from}`);
      expect(d.details.allowed).toEqual([...TRANSITIONS[from]]);
    }
  });

  it('names the allowed moves, or says the status is terminal', () => {
    expect(() => assertTransition({ id: 'x', status: 'pending' }, 'completed')).toThrow(
      'task x is pending; cannot move to completed (allowed next: running, cancelled)',
    );
    expect(() => assertTransition({ id: 'x', status: 'failed' }, 'running')).toThrow(
      'none, it is terminal',
    );
  });
});
