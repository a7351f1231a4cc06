import { LOCK_MODES, type LockGrant, type LockMode, type RefusalReason } from '../domain/lock';

/** DI token for {@link LockStore}. */
export const LOCK_STORE = Symbol('opencode-tools:LockStore');

export { LOCK_MODES, type LockGrant, type LockMode, type RefusalReason };

export interface AcquireRequest {
  resource: string;
  holder: string;
  mode: LockMode;
  ttlMs: number;
  /** The caller's clock (epoch ms). Adapters use it, never their own, so time stays controllable. */
  now: number;
}

/**
 * `ok: false` means live grants of other holders conflict; they are listed so the caller can name
 * them. Re-acquisition by a live holder is `reentered` (count + 1, same token, lease extended). A
 * collaborative holder asking for `exclusive` is upgraded when it is the only live holder; an
 * exclusive holder asking for `collaborative` keeps its exclusive grant.
 */
export type AcquireOutcome =
  { ok: true; grant: LockGrant; reentered: boolean } | { ok: false; holders: LockGrant[] };

/** Why an operation that needs a live grant of this holder was refused. */
export type HolderRefusal = {
  ok: false;
  reason: RefusalReason;
  /** This holder's stored grant, if any (expired or with another token). */
  own?: LockGrant;
  /** Live grants of other holders. */
  holders: LockGrant[];
};

export type ReleaseOutcome =
  | {
      ok: true;
      /** Acquisitions still outstanding; 0 means the grant is gone. */
      remaining: number;
      grant: LockGrant;
    }
  | HolderRefusal;

export type RenewOutcome = { ok: true; grant: LockGrant } | HolderRefusal;

export interface LockListFilter {
  resource?: string;
  holder?: string;
}

/**
 * Leases with fencing tokens, shared by every process that opens the same store. Every method is
 * atomic with respect to every other caller, in this process and in others:
 * SQLite does each one in a `BEGIN IMMEDIATE` transaction (writers queue on the busy timeout);
 * a Postgres adapter would lock the resource's row (`SELECT … FOR UPDATE`, or
 * `pg_advisory_xact_lock(hashtext(resource))` when the row does not exist yet) and draw tokens
 * from a sequence, which is monotonic per resource because it is monotonic overall.
 * A lease is live while `now < expiresAt`; expired grants never conflict and are removed lazily.
 * Implementations: SQLite (default), in-memory. All pass `test/contract/lock-store.contract.ts`.
 */
export interface LockStore {
  acquire(req: AcquireRequest): Promise<AcquireOutcome>;
  /**
   * Drops one acquisition (or all with `all`). With `token`, refuses (`superseded`) unless the
   * holder's grant carries that token.
   */
  release(
    resource: string,
    holder: string,
    opts: { now: number; all?: boolean; token?: number },
  ): Promise<ReleaseOutcome>;
  /**
   * Extends a live grant to `now + ttlMs` (its stored TTL when omitted); never revives an expired one.
   * With `lazy` (and no `ttlMs`), a grant renewed less than a quarter of its TTL ago is checked
   * (holder, expiry, token) but not written: activity checks on every call cost a read, not a
   * write. A store may ignore `lazy` and always write.
   */
  renew(
    resource: string,
    holder: string,
    opts: { now: number; ttlMs?: number; token?: number; lazy?: boolean },
  ): Promise<RenewOutcome>;
  /** Live grants, ordered by resource then token. */
  list(filter: LockListFilter, now: number): Promise<LockGrant[]>;
  /** Deletes expired grants; returns how many. Fencing counters are kept. */
  purgeExpired(now: number): Promise<number>;
  /**
   * The highest fencing token ever issued by this store, for any resource (0 when none), so that
   * `export` / `import` can keep tokens growing in the new store. Optional for custom stores.
   */
  maxToken?(): Promise<number>;
}
