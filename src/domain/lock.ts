import { z } from 'zod';

export const LOCK_MODES = ['exclusive', 'collaborative'] as const;
/** `exclusive` excludes everyone; `collaborative` holders share and exclude exclusive ones. */
export type LockMode = (typeof LOCK_MODES)[number];

/** One holder's lease on one resource. Times are ISO-8601 instants. */
export interface LockGrant {
  resource: string;
  holder: string;
  mode: LockMode;
  /**
   * Fencing token: issued when the grant is created, kept while it is re-entered or renewed, and
   * strictly greater than every token issued before for the same resource.
   */
  token: number;
  /** Re-entrant count: acquisitions by this holder not yet released. */
  count: number;
  /** Lease length used by renewals that do not name one. */
  ttlMs: number;
  acquiredAt: string;
  renewedAt: string;
  expiresAt: string;
}

/**
 * Why a holder may not release or renew: `not-held`: no grant of this holder (never had one,
 * released, or expired and cleaned up); `expired`: its grant is still stored but its lease ran out;
 * `superseded`: it holds a grant, but with another fencing token than the one presented.
 */
export type RefusalReason = 'not-held' | 'expired' | 'superseded';

/** Limits and defaults of leases (README "Locks and agents" lists them). */
export const LOCK_LIMITS = {
  defaultTtlMs: 30_000,
  minTtlMs: 100,
  maxTtlMs: 24 * 3_600_000,
  maxWaitMs: 10 * 60_000,
  resourceMax: 512,
  holderMax: 200,
} as const;

export const lockModeSchema = z.enum(LOCK_MODES, {
  error: `must be one of: ${LOCK_MODES.join(', ')}`,
});

export const ttlSchema = z
  .number({ error: 'must be a duration such as 30s' })
  .int('must be a whole number of milliseconds')
  .min(LOCK_LIMITS.minTtlMs, `must be at least ${LOCK_LIMITS.minTtlMs}ms`)
  .max(LOCK_LIMITS.maxTtlMs, `must be at most ${LOCK_LIMITS.maxTtlMs / 3_600_000}h`);

export const waitSchema = z
  .number({ error: 'must be a duration such as 5s' })
  .int('must be a whole number of milliseconds')
  .min(0, 'must not be negative')
  .max(LOCK_LIMITS.maxWaitMs, `must be at most ${LOCK_LIMITS.maxWaitMs / 60_000}m`);

export const resourceSchema = z
  .string({ error: 'is required' })
  .min(1, 'must not be empty')
  .max(LOCK_LIMITS.resourceMax, `must be at most ${LOCK_LIMITS.resourceMax} characters`);

export const holderSchema = z
  .string({ error: 'is required' })
  .trim()
  .min(1, 'must not be empty; name the agent or process holding the lock')
  .max(LOCK_LIMITS.holderMax, `must be at most ${LOCK_LIMITS.holderMax} characters`);

/**
 * A grant as adapters keep it: times in epoch ms. The rules below are the one definition of lock
 * semantics; every adapter applies them inside its own atomic section.
 */
export interface GrantRecord {
  resource: string;
  holder: string;
  mode: LockMode;
  token: number;
  count: number;
  ttlMs: number;
  acquiredAt: number;
  renewedAt: number;
  expiresAt: number;
}

// Date#toISOString measured at ~13% of an in-memory SQLite acquire+release; grants are formatted
// at a handful of nearby instants, so the "YYYY-MM-DDTHH:MM:SS." prefix of the last two seconds seen
// is cached and only the milliseconds are appended.
const isoCache: [number, string][] = [
  [NaN, ''],
  [NaN, ''],
];
export function iso(ms: number): string {
  const t = Math.round(ms);
  const sec = Math.floor(t / 1000);
  if (!(t >= 0 && t < 253402300800000)) return new Date(t).toISOString();
  let slot = isoCache[0][0] === sec ? isoCache[0] : isoCache[1][0] === sec ? isoCache[1] : null;
  if (!slot) {
    slot = [sec, new Date(sec * 1000).toISOString().slice(0, 20)];
    isoCache[1] = isoCache[0];
    isoCache[0] = slot;
  }
  const frac = t - sec * 1000;
  return `${slot[1]}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`;
}

export function toGrant(r: GrantRecord): LockGrant {
  const acquiredAt = iso(r.acquiredAt);
  return {
    resource: r.resource,
    holder: r.holder,
    mode: r.mode,
    token: r.token,
    count: r.count,
    ttlMs: r.ttlMs,
    acquiredAt,
    renewedAt: r.renewedAt === r.acquiredAt ? acquiredAt : iso(r.renewedAt),
    expiresAt: iso(r.expiresAt),
  };
}

export const isLive = (r: Pick<GrantRecord, 'expiresAt'>, now: number): boolean =>
  now < r.expiresAt;

export type AcquireDecision =
  | { kind: 'conflict'; holders: GrantRecord[] }
  | { kind: 'reenter'; record: GrantRecord }
  | { kind: 'grant' };

/**
 * Decides an acquisition given the resource's live grants. Re-entry counts and extends the lease
 * (never shortens it); a collaborative holder alone may upgrade to exclusive; an exclusive holder
 * asking for collaborative keeps exclusive.
 */
export function decideAcquire(
  live: GrantRecord[],
  req: { holder: string; mode: LockMode; ttlMs: number; now: number },
): AcquireDecision {
  if (live.length === 0) return { kind: 'grant' };
  const own = live.find((g) => g.holder === req.holder);
  const others = live.filter((g) => g.holder !== req.holder);
  const conflicting =
    req.mode === 'exclusive' ? others : others.filter((g) => g.mode === 'exclusive');
  if (conflicting.length) return { kind: 'conflict', holders: conflicting };
  if (!own) return { kind: 'grant' };
  return {
    kind: 'reenter',
    record: {
      ...own,
      mode: req.mode === 'exclusive' ? 'exclusive' : own.mode,
      count: own.count + 1,
      ttlMs: req.ttlMs,
      renewedAt: req.now,
      expiresAt: Math.max(own.expiresAt, req.now + req.ttlMs),
    },
  };
}

export function newGrantRecord(
  req: { resource: string; holder: string; mode: LockMode; ttlMs: number; now: number },
  token: number,
): GrantRecord {
  return {
    resource: req.resource,
    holder: req.holder,
    mode: req.mode,
    token,
    count: 1,
    ttlMs: req.ttlMs,
    acquiredAt: req.now,
    renewedAt: req.now,
    expiresAt: req.now + req.ttlMs,
  };
}

/**
 * True when a lazy renewal may skip the write: no new TTL was asked for and the grant was renewed
 * less than a quarter of its TTL ago (so at least three quarters of it are left).
 */
export function renewalCanWait(
  own: GrantRecord,
  opts: { now: number; ttlMs?: number; lazy?: boolean },
): boolean {
  return (
    opts.lazy === true &&
    (opts.ttlMs === undefined || opts.ttlMs === own.ttlMs) &&
    opts.now - own.renewedAt < own.ttlMs / 4
  );
}

/**
 * The lazy renewal's answer from a plain read of the holder's grant: the grant when it is the
 * holder's, live, with the right token and {@link renewalCanWait}; otherwise undefined (renew in a
 * transaction, which also gives the refusal).
 */
export function grantIfRenewalCanWait(
  own: GrantRecord | undefined,
  opts: { now: number; ttlMs?: number; token?: number; lazy?: boolean },
): LockGrant | undefined {
  return own && !holderRefusalReason(own, opts.now, opts.token) && renewalCanWait(own, opts)
    ? toGrant(own)
    : undefined;
}

/** Why a holder may not release or renew its grant, or null when it may. */
export function holderRefusalReason(
  own: GrantRecord | undefined,
  now: number,
  token: number | undefined,
): RefusalReason | null {
  if (!own) return 'not-held';
  if (!isLive(own, now)) return 'expired';
  if (token !== undefined && own.token !== token) return 'superseded';
  return null;
}

export function compareGrants(a: GrantRecord, b: GrantRecord): number {
  return a.resource < b.resource ? -1 : a.resource > b.resource ? 1 : a.token - b.token;
}
