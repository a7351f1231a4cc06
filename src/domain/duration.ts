import { ValidationError } from './errors';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses `500ms`, `30s`, `2m`, `1h`, `1d` or a bare number of milliseconds.
 * @example parseDuration('30s', 'ttl') // 30000
 */
export function parseDuration(input: string | number, field: string): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) {
      throw new ValidationError(field, `expected a non-negative duration, got ${input}`);
    }
    return Math.round(input);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(input);
  if (!m) {
    throw new ValidationError(
      field,
      `invalid duration '${input}'; use a number with a unit such as 500ms, 30s, 2m, 1h (a bare number means milliseconds)`,
    );
  }
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 'ms']);
}
