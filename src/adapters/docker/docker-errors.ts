import { ConflictError, DomainError, NotFoundError } from '../../domain/errors';

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOENT',
  'EACCES',
  'EPERM',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** Where the engine is expected, for error messages: DOCKER_HOST or the default socket. */
export function engineAddress(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_HOST
    ? `DOCKER_HOST=${env.DOCKER_HOST}`
    : 'the socket /var/run/docker.sock (set DOCKER_HOST to use another engine)';
}

export function isEngineDown(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && UNREACHABLE.has(code);
}

export function engineUnavailable(err: unknown): DomainError {
  const e = err as { code?: string; message?: string };
  return new DomainError(
    'SANDBOX_UNAVAILABLE',
    `Docker engine unavailable at ${engineAddress()}: ${e.code ?? ''} ${e.message ?? String(err)}`.trim() +
      '; start dockerd (scripts/start-docker.sh does) or point DOCKER_HOST at a running engine',
    { dockerHost: process.env.DOCKER_HOST ?? null, cause: e.code ?? null },
  );
}

/**
 * Maps a dockerode error to a DomainError once, at the adapter edge: unreachable engine →
 * SANDBOX_UNAVAILABLE, 404 → NOT_FOUND (of `what`), 409 → CONFLICT, anything else → INTERNAL.
 */
export function mapDockerError(err: unknown, what?: { kind: string; id: string }): DomainError {
  if (err instanceof DomainError) return err;
  if (isEngineDown(err)) return engineUnavailable(err);
  const e = err as { statusCode?: number; message?: string; json?: { message?: string } };
  const msg = e.json?.message ?? e.message ?? String(err);
  if (e.statusCode === 404 && what) return new NotFoundError(what.kind, what.id);
  if (e.statusCode === 409) return new ConflictError(msg, what ? { [what.kind]: what.id } : {});
  return new DomainError('INTERNAL', `Docker engine error: ${msg}`, {
    statusCode: e.statusCode ?? null,
  });
}

/** Runs `fn`, mapping its errors. */
export async function docker<T>(fn: () => Promise<T>, what?: { kind: string; id: string }) {
  try {
    return await fn();
  } catch (err) {
    throw mapDockerError(err, what);
  }
}

/** True for a dockerode 404 (used for idempotent removals). */
export const isNotFound = (err: unknown) => (err as { statusCode?: number })?.statusCode === 404;
