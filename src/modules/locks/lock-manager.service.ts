import { Inject, Injectable, Optional } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import {
  holderSchema,
  LOCK_LIMITS,
  lockModeSchema,
  resourceSchema,
  ttlSchema,
  waitSchema,
  type LockGrant,
  type LockMode,
} from '../../domain/lock';
import { parseOrThrow } from '../../domain/validation';
import { CLOCK, type Clock } from '../../ports/clock.port';
import {
  LOCK_STORE,
  type AcquireOutcome,
  type LockListFilter,
  type LockStore,
} from '../../ports/lock-store.port';
import { lockHeldError, lockSubject, refusalError, type LockSubject } from './lock-errors';
import { LOCK_EVENTS, type LockConflictEvent, type LockWaitEvent } from './lock.events';

export interface AcquireOptions {
  /** Lease length (default 30s, 100ms-24h). */
  ttlMs?: number;
  /** @internal wording of error messages (the attachment service names tasks and agents). */
  subject?: LockSubject;
}

export interface BackoffOptions {
  /** First pause (default 10ms); each following pause doubles, up to `maxDelayMs` (default 500ms). */
  initialDelayMs?: number;
  maxDelayMs?: number;
  factor?: number;
}

export interface RetryOptions extends AcquireOptions, BackoffOptions {
  /** Give up with LOCK_HELD once this much time has passed (0-10m). */
  waitMs: number;
}

export interface WithLockOptions extends AcquireOptions, BackoffOptions {
  mode?: LockMode;
  /** Retry for up to this long before giving up (default 0: fail at once). */
  waitMs?: number;
  /** Renew the lease every ttl/3 while `fn` runs (default true). */
  autoRenew?: boolean;
}

const validName = (v: unknown, max: number): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= max;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Leases with fencing tokens over the configured {@link LockStore}: shared by every process using
 * the same database. Every grant has a TTL, so a crashed holder blocks nobody for longer than that.
 * @example
 * const grant = await locks.acquireLock('repo:api', 'agent-7', 'exclusive', { ttlMs: 30_000 });
 * try { await deploy(grant.token); } finally { await locks.releaseLock('repo:api', 'agent-7'); }
 * // or
 * await locks.withLock('repo:api', 'agent-7', async (grant) => deploy(grant.token), { waitMs: 5000 });
 */
@Injectable()
export class LockManager {
  constructor(
    @Inject(LOCK_STORE) private readonly store: LockStore,
    @Inject(CLOCK) private readonly clock: Clock,
    /** Publishes conflicts and waits (metrics); absent outside a Nest container. */
    @Optional() private readonly events?: EventEmitter2,
  ) {}

  private publish(name: string, e: LockConflictEvent | LockWaitEvent): void {
    try {
      this.events?.emit(name, e);
    } catch {
      // A failing listener must never turn a lock decision into an error.
    }
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  private validate(resource: string, holder: string, mode: LockMode, ttlMs: number | undefined) {
    const ttl = ttlMs ?? LOCK_LIMITS.defaultTtlMs;
    // Hot path: plainly valid input skips zod (measured ~5% of an uncontended SQLite pair); anything
    // else goes through the schemas, which produce the error messages.
    if (
      validName(resource, LOCK_LIMITS.resourceMax) &&
      validName(holder, LOCK_LIMITS.holderMax) &&
      holder.trim() === holder &&
      (mode === 'exclusive' || mode === 'collaborative') &&
      Number.isInteger(ttl) &&
      ttl >= LOCK_LIMITS.minTtlMs &&
      ttl <= LOCK_LIMITS.maxTtlMs
    ) {
      return { resource, holder, mode, ttlMs: ttl };
    }
    return {
      resource: parseOrThrow(resourceSchema, resource, 'resource'),
      holder: parseOrThrow(holderSchema, holder, 'holder'),
      mode: parseOrThrow(lockModeSchema, mode, 'mode'),
      ttlMs: parseOrThrow(ttlSchema, ttl, 'ttl'),
    };
  }

  private names(resource: string, holder: string): [string, string] {
    if (
      validName(resource, LOCK_LIMITS.resourceMax) &&
      validName(holder, LOCK_LIMITS.holderMax) &&
      holder.trim() === holder
    ) {
      return [resource, holder];
    }
    return [
      parseOrThrow(resourceSchema, resource, 'resource'),
      parseOrThrow(holderSchema, holder, 'holder'),
    ];
  }

  private attempt(req: ReturnType<LockManager['validate']>): Promise<AcquireOutcome> {
    const { resource, holder, mode, ttlMs } = req;
    return this.store.acquire({ resource, holder, mode, ttlMs, now: this.now() });
  }

  /**
   * Grants the lock or fails at once with LOCK_HELD naming the holders and their expiry. The same
   * holder acquiring again is counted (same token, lease extended).
   */
  async acquireLock(
    resource: string,
    holder: string,
    mode: LockMode = 'exclusive',
    opts: AcquireOptions = {},
  ): Promise<LockGrant> {
    const req = this.validate(resource, holder, mode, opts.ttlMs);
    const out = await this.attempt(req);
    if (out.ok) return out.grant;
    this.publish(LOCK_EVENTS.conflict, { resource: req.resource, holder: req.holder });
    throw lockHeldError(
      opts.subject ?? lockSubject(req.resource, req.holder),
      req.resource,
      out.holders,
      this.now(),
    );
  }

  /**
   * Like {@link acquireLock}, but retries with exponential backoff and jitter until `waitMs` has
   * passed. A pause never outlasts the deadline, and is cut short when the lease in the way expires
   * sooner. The deadline is real elapsed time, not the injected clock.
   */
  async acquireLockWithRetry(
    resource: string,
    holder: string,
    mode: LockMode,
    opts: RetryOptions,
  ): Promise<LockGrant> {
    const req = this.validate(resource, holder, mode, opts.ttlMs);
    const waitMs = parseOrThrow(waitSchema, opts.waitMs, 'wait');
    const initial = Math.max(1, opts.initialDelayMs ?? 10);
    const max = Math.max(initial, opts.maxDelayMs ?? 500);
    const factor = Math.max(1, opts.factor ?? 2);
    const started = performance.now();
    const deadline = started + waitMs;
    const waited = (attempts: number, granted: boolean) => {
      if (attempts > 1 || !granted) {
        const waitedMs = performance.now() - started;
        const { resource: r, holder: h } = req;
        this.publish(LOCK_EVENTS.wait, { resource: r, holder: h, waitedMs, attempts, granted });
      }
    };
    for (let attempt = 0; ; attempt++) {
      const out = await this.attempt(req);
      if (out.ok) {
        waited(attempt + 1, true);
        return out.grant;
      }
      this.publish(LOCK_EVENTS.conflict, { resource: req.resource, holder: req.holder });
      const left = deadline - performance.now();
      if (left <= 0) {
        waited(attempt + 1, false);
        throw lockHeldError(
          opts.subject ?? lockSubject(req.resource, req.holder),
          req.resource,
          out.holders,
          this.now(),
          `; gave up after waiting ${waitMs}ms (${attempt + 1} attempts)`,
        );
      }
      const base = Math.min(max, initial * factor ** attempt);
      // "Equal jitter": half fixed, half random, so retries spread out but never spin.
      let pause = base / 2 + Math.random() * (base / 2);
      const firstExpiry = Math.min(...out.holders.map((g) => Date.parse(g.expiresAt)));
      if (Number.isFinite(firstExpiry)) pause = Math.min(pause, firstExpiry - this.now() + 1);
      await sleep(Math.max(1, Math.min(pause, left)));
    }
  }

  /**
   * Drops one acquisition (all of them with `all`); the grant goes when the count reaches 0.
   * Throws NOT_ATTACHED / LOCK_HELD when the holder has no grant, LEASE_EXPIRED when its lease ran
   * out or `token` is not its current one.
   */
  async releaseLock(
    resource: string,
    holder: string,
    opts: { all?: boolean; token?: number; subject?: LockSubject } = {},
  ): Promise<{ remaining: number; grant: LockGrant }> {
    const [r, h] = this.names(resource, holder);
    const now = this.now();
    const out = await this.store.release(r, h, { now, all: opts.all, token: opts.token });
    if (out.ok) return { remaining: out.remaining, grant: out.grant };
    throw refusalError(opts.subject ?? lockSubject(r, h), r, out, now, opts.token);
  }

  /**
   * Extends a live lease to now + `ttlMs` (default: the grant's TTL). Never revives an expired one.
   * `lazy`: only checks (no write) a lease renewed less than a quarter of its TTL ago.
   */
  async renewLock(
    resource: string,
    holder: string,
    opts: { ttlMs?: number; token?: number; subject?: LockSubject; lazy?: boolean } = {},
  ): Promise<LockGrant> {
    const [r, h] = this.names(resource, holder);
    const ttlMs = opts.ttlMs === undefined ? undefined : parseOrThrow(ttlSchema, opts.ttlMs, 'ttl');
    const now = this.now();
    const out = await this.store.renew(r, h, { now, ttlMs, token: opts.token, lazy: opts.lazy });
    if (out.ok) return out.grant;
    throw refusalError(opts.subject ?? lockSubject(r, h), r, out, now, opts.token);
  }

  /**
   * Runs `fn` holding the lock and always releases it, also when `fn` throws (then `fn`'s error is
   * what you see). The lease is renewed every ttl/3 while `fn` runs; if a renewal fails, `signal`
   * aborts. If `fn` succeeds but the lease was lost meanwhile, the release error is thrown, since
   * the work ran unprotected.
   */
  async withLock<T>(
    resource: string,
    holder: string,
    fn: (grant: LockGrant, signal: AbortSignal) => Promise<T> | T,
    opts: WithLockOptions = {},
  ): Promise<T> {
    const mode = opts.mode ?? 'exclusive';
    const grant = opts.waitMs
      ? await this.acquireLockWithRetry(resource, holder, mode, { ...opts, waitMs: opts.waitMs })
      : await this.acquireLock(resource, holder, mode, opts);
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    if (opts.autoRenew !== false) {
      timer = setInterval(
        () => {
          this.renewLock(grant.resource, grant.holder, { token: grant.token }).catch((err) => {
            clearInterval(timer);
            ac.abort(err);
          });
        },
        Math.max(10, Math.floor(grant.ttlMs / 3)),
      );
      timer.unref();
    }
    let result: T;
    try {
      result = await fn(grant, ac.signal);
    } catch (err) {
      clearInterval(timer);
      await this.releaseLock(grant.resource, grant.holder, { token: grant.token }).catch(
        () => undefined,
      );
      throw err;
    }
    clearInterval(timer);
    await this.releaseLock(grant.resource, grant.holder, { token: grant.token });
    return result;
  }

  /** Live grants, ordered by resource then token. */
  listLocks(filter: LockListFilter = {}): Promise<LockGrant[]> {
    return this.store.list(filter, this.now());
  }

  /** Deletes expired grants (they are also removed lazily); returns how many. */
  purgeExpired(): Promise<number> {
    return this.store.purgeExpired(this.now());
  }
}
