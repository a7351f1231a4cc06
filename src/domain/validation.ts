import { z } from 'zod';
import { ValidationError } from './errors';

/**
 * Parses `input` with `schema`, turning the first zod issue into a `ValidationError` that names the
 * field (dotted path, prefixed by `root` when given) and says what is expected.
 */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  input: unknown,
  root?: string,
): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = [root, ...issue.path.map(String)].filter(Boolean).join('.') || root || 'input';
  throw new ValidationError(path, issue.message);
}

/** Parses a JSON string into an object, naming the field on failure. */
export function parseJsonObject(text: string, field: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ValidationError(
      field,
      `malformed JSON (${(err as Error).message}); pass a JSON object such as '{"key":"value"}'`,
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ValidationError(field, 'must be a JSON object such as \'{"key":"value"}\'');
  }
  return value as Record<string, unknown>;
}

/** Parses any JSON value, naming the field on failure. */
export function parseJsonValue(text: string, field: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ValidationError(field, `malformed JSON (${(err as Error).message})`);
  }
}
