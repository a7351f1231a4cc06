import { DomainError } from '../../domain/errors';
import type { LockGrant } from '../../domain/lock';
import type { HolderRefusal } from '../../ports/lock-store.port';

/** How messages name the thing locked and who asked: "lock 'x'" / "holder 'h'", or a task and an agent. */
export interface LockSubject {
  thing: string;
  who: string;
  /** Added to NOT_ATTACHED messages: what to do about it. */
  hint?: string;
  /** Ends LEASE_EXPIRED messages (default "acquire it again"). */
  again?: string;
}

export const lockSubject = (resource: string, holder: string): LockSubject => ({
  thing: `lock '${resource}'`,
  who: `holder '${holder}'`,
});

function inWords(ms: number): string {
  const abs = Math.abs(ms);
  const text =
    abs >= 3_600_000
      ? `${(abs / 3_600_000).toFixed(1)}h`
      : abs >= 60_000
        ? `${(abs / 60_000).toFixed(1)}m`
        : abs >= 1000
          ? `${(abs / 1000).toFixed(1)}s`
          : `${Math.round(abs)}ms`;
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

const holderSummary = (g: LockGrant) => ({
  holder: g.holder,
  mode: g.mode,
  token: g.token,
  expiresAt: g.expiresAt,
});

/** "'b' (exclusive, token 7) until …Z (in 12.0s)" or a count of collaborative holders. */
export function describeHolders(holders: LockGrant[], now: number): string {
  const one = (g: LockGrant) =>
    `'${g.holder}' (${g.mode}, token ${g.token}) until ${g.expiresAt} (${inWords(
      Date.parse(g.expiresAt) - now,
    )})`;
  if (holders.length <= 3) return holders.map(one).join(', ');
  return `${holders.length} holders: ${holders
    .slice(0, 3)
    .map(one)
    .join(', ')} and ${holders.length - 3} more`;
}

/** LOCK_HELD, naming the live holders in the way and when they expire. */
export function lockHeldError(
  subject: LockSubject,
  resource: string,
  holders: LockGrant[],
  now: number,
  extra = '',
): DomainError {
  return new DomainError(
    'LOCK_HELD',
    `${subject.thing} is held by ${describeHolders(holders, now)}${extra}`,
    { resource, holders: holders.map(holderSummary) },
  );
}

/**
 * Maps a store refusal to the error the caller sees: NOT_ATTACHED (no grant, nobody in the way),
 * LOCK_HELD (no grant, and someone else holds it exclusively or it is exclusive ground),
 * LEASE_EXPIRED (the grant ran out, or a newer token replaced the one presented).
 */
export function refusalError(
  subject: LockSubject,
  resource: string,
  refusal: HolderRefusal,
  now: number,
  presentedToken?: number,
): DomainError {
  const details = {
    resource,
    reason: refusal.reason,
    holders: refusal.holders.map(holderSummary),
    ...(refusal.own ? { expiredAt: refusal.own.expiresAt, token: refusal.own.token } : {}),
  };
  const others = refusal.holders.length
    ? `; it is now held by ${describeHolders(refusal.holders, now)}`
    : '';
  switch (refusal.reason) {
    case 'expired':
      return new DomainError(
        'LEASE_EXPIRED',
        `the lease of ${subject.who} on ${subject.thing} expired at ${refusal.own?.expiresAt} (${inWords(
          Date.parse(refusal.own?.expiresAt ?? '') - now,
        )})${others}; ${subject.again ?? 'acquire it again'}`,
        details,
      );
    case 'superseded':
      return new DomainError(
        'LEASE_EXPIRED',
        `${subject.who} presented fencing token ${presentedToken} for ${subject.thing}, but its current grant has token ${refusal.own?.token}: the older lease was superseded`,
        details,
      );
    case 'not-held': {
      const blocking = refusal.holders.filter((g) => g.mode === 'exclusive');
      if (blocking.length) {
        return new DomainError(
          'LOCK_HELD',
          `${subject.who} does not hold ${subject.thing} (its lease expired or was never granted); it is held by ${describeHolders(
            blocking,
            now,
          )}`,
          details,
        );
      }
      return new DomainError(
        'NOT_ATTACHED',
        `${subject.who} does not hold ${subject.thing}${others || ' (nobody does)'}${
          subject.hint ? `; ${subject.hint}` : ''
        }`,
        details,
      );
    }
  }
}
