import { posix } from 'node:path';
import { ValidationError } from './errors';

/**
 * Validates a path inside a sandbox by its components, never by string prefix: absolute (or
 * relative to `base`), no `..`, no empty or NUL-containing components. Returns the normalised
 * absolute path. Symlinks are the adapter's business (it refuses to follow them out of the tree).
 * @example sandboxPath('src/main.ts', 'path', '/workspace') // '/workspace/src/main.ts'
 */
export function sandboxPath(input: unknown, field = 'path', base = '/workspace'): string {
  if (typeof input !== 'string' || input.trim() === '') {
    throw new ValidationError(field, 'is required; give a file path inside the sandbox');
  }
  if (input.includes('\0')) throw new ValidationError(field, 'must not contain NUL bytes');
  if (input.length > 4096) throw new ValidationError(field, 'must be at most 4096 characters');
  const parts = input.split('/');
  if (parts.includes('..')) {
    throw new ValidationError(field, `'${input}' contains '..'; path traversal is not allowed`);
  }
  const abs = input.startsWith('/') ? input : `${base}/${input}`;
  const normal = posix.normalize(abs);
  if (normal === '/' || normal.endsWith('/')) {
    throw new ValidationError(field, `'${input}' names a directory; give a file path`);
  }
  return normal;
}

/** Splits a normalised absolute path into its parent directory and file name. */
export function splitPath(path: string): { dir: string; name: string } {
  return { dir: posix.dirname(path), name: posix.basename(path) };
}
