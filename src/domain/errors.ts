/**
 * Every failure the core raises is a `DomainError` with a stable `code`. Edges map codes once:
 * the CLI to exit codes (see `exitCodeFor`), MCP to `isError` results, HTTP to status codes.
 * Core services never throw transport-specific exceptions.
 */
export const ERROR_CODES = [
  'VALIDATION',
  'NOT_FOUND',
  'CONFLICT',
  'ILLEGAL_TRANSITION',
  'LOCK_HELD',
  'NOT_ATTACHED',
  'LEASE_EXPIRED',
  'HOOK_VETO',
  'SANDBOX_UNAVAILABLE',
  'STORAGE_UNAVAILABLE',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }

  toJSON(): { code: ErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export class ValidationError extends DomainError {
  constructor(
    readonly field: string,
    message: string,
    details: Record<string, unknown> = {},
  ) {
    super('VALIDATION', `${field}: ${message}`, { field, ...details });
    this.name = 'ValidationError';
  }
}

export class NotFoundError extends DomainError {
  constructor(kind: string, id: string) {
    super('NOT_FOUND', `${kind} '${id}' not found`, { kind, id });
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends DomainError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('CONFLICT', message, details);
    this.name = 'ConflictError';
  }
}

export class HookVetoError extends DomainError {
  constructor(
    readonly hook: string,
    readonly event: string,
    readonly reason: string,
  ) {
    super('HOOK_VETO', `vetoed by hook '${hook}' on ${event}: ${reason}`, { hook, event, reason });
    this.name = 'HookVetoError';
  }
}

/** Process exit codes of the CLI (public contract, see README "Exit codes"). */
export const EXIT_CODES = {
  OK: 0,
  UNEXPECTED: 1,
  USAGE: 2,
  NOT_FOUND: 3,
  CONFLICT: 4,
  UNAVAILABLE: 5,
  VETOED: 6,
} as const;

export function exitCodeFor(err: unknown): number {
  if (!(err instanceof DomainError)) return EXIT_CODES.UNEXPECTED;
  switch (err.code) {
    case 'VALIDATION':
      return EXIT_CODES.USAGE;
    case 'NOT_FOUND':
      return EXIT_CODES.NOT_FOUND;
    case 'CONFLICT':
    case 'ILLEGAL_TRANSITION':
    case 'LOCK_HELD':
    case 'NOT_ATTACHED':
    case 'LEASE_EXPIRED':
      return EXIT_CODES.CONFLICT;
    case 'SANDBOX_UNAVAILABLE':
    case 'STORAGE_UNAVAILABLE':
      return EXIT_CODES.UNAVAILABLE;
    case 'HOOK_VETO':
      return EXIT_CODES.VETOED;
    default:
      return EXIT_CODES.UNEXPECTED;
  }
}
