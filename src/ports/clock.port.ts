export const CLOCK = Symbol('opencode-tools:Clock');

/** Time source; swapped for a controllable clock in tests. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
