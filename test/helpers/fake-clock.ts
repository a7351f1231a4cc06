import type { Clock } from '../../src/ports/clock.port';

/** A clock that moves only when told to. */
export class FakeClock implements Clock {
  constructor(public ms = Date.parse('2026-01-01T00:00:00.000Z')) {}
  now(): Date {
    return new Date(this.ms);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}
