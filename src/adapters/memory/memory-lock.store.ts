import {
  compareGrants,
  decideAcquire,
  holderRefusalReason,
  isLive,
  newGrantRecord,
  renewalCanWait,
  toGrant,
  type GrantRecord,
} from '../../domain/lock';
import type {
  AcquireOutcome,
  AcquireRequest,
  LockGrant,
  LockListFilter,
  LockStore,
  ReleaseOutcome,
  RenewOutcome,
} from '../../ports/lock-store.port';

interface ResourceState {
  /** Last fencing token issued; survives the grants so tokens never go back. */
  fence: number;
  grants: Map<string, GrantRecord>;
}

/**
 * In-process leases: a real driver for tests and single-process embedding. Operations are
 * synchronous under the hood, so each one is atomic on Node's single thread. Not shared between
 * processes; use SQLite or Postgres for that.
 */
export class MemoryLockStore implements LockStore {
  private readonly resources = new Map<string, ResourceState>();

  private state(resource: string): ResourceState {
    let s = this.resources.get(resource);
    if (!s) {
      s = { fence: 0, grants: new Map() };
      this.resources.set(resource, s);
    }
    return s;
  }

  private liveOthers(s: ResourceState | undefined, holder: string, now: number): LockGrant[] {
    if (!s) return [];
    return [...s.grants.values()]
      .filter((g) => g.holder !== holder && isLive(g, now))
      .sort(compareGrants)
      .map(toGrant);
  }

  async acquire(req: AcquireRequest): Promise<AcquireOutcome> {
    const s = this.state(req.resource);
    for (const [h, g] of s.grants) if (!isLive(g, req.now)) s.grants.delete(h);
    const decision = decideAcquire([...s.grants.values()], req);
    switch (decision.kind) {
      case 'conflict':
        return { ok: false, holders: decision.holders.sort(compareGrants).map(toGrant) };
      case 'reenter':
        s.grants.set(req.holder, decision.record);
        return { ok: true, grant: toGrant(decision.record), reentered: true };
      case 'grant': {
        const rec = newGrantRecord(req, ++s.fence);
        s.grants.set(req.holder, rec);
        return { ok: true, grant: toGrant(rec), reentered: false };
      }
    }
  }

  async release(
    resource: string,
    holder: string,
    opts: { now: number; all?: boolean; token?: number },
  ): Promise<ReleaseOutcome> {
    const s = this.resources.get(resource);
    const own = s?.grants.get(holder);
    const reason = holderRefusalReason(own, opts.now, opts.token);
    if (reason || !s || !own) {
      return {
        ok: false,
        reason: reason ?? 'not-held',
        ...(own ? { own: toGrant(own) } : {}),
        holders: this.liveOthers(s, holder, opts.now),
      };
    }
    if (opts.all || own.count <= 1) {
      s.grants.delete(holder);
      return { ok: true, remaining: 0, grant: toGrant({ ...own, count: 0 }) };
    }
    const next = { ...own, count: own.count - 1 };
    s.grants.set(holder, next);
    return { ok: true, remaining: next.count, grant: toGrant(next) };
  }

  async renew(
    resource: string,
    holder: string,
    opts: { now: number; ttlMs?: number; token?: number; lazy?: boolean },
  ): Promise<RenewOutcome> {
    const s = this.resources.get(resource);
    const own = s?.grants.get(holder);
    const reason = holderRefusalReason(own, opts.now, opts.token);
    if (reason || !s || !own) {
      return {
        ok: false,
        reason: reason ?? 'not-held',
        ...(own ? { own: toGrant(own) } : {}),
        holders: this.liveOthers(s, holder, opts.now),
      };
    }
    if (renewalCanWait(own, opts)) return { ok: true, grant: toGrant(own) };
    const ttlMs = opts.ttlMs ?? own.ttlMs;
    const next = { ...own, ttlMs, renewedAt: opts.now, expiresAt: opts.now + ttlMs };
    s.grants.set(holder, next);
    return { ok: true, grant: toGrant(next) };
  }

  async list(filter: LockListFilter, now: number): Promise<LockGrant[]> {
    const out: GrantRecord[] = [];
    const states =
      filter.resource !== undefined
        ? [this.resources.get(filter.resource)].filter((s) => !!s)
        : [...this.resources.values()];
    for (const s of states) {
      for (const g of s.grants.values()) {
        if (isLive(g, now) && (filter.holder === undefined || g.holder === filter.holder))
          out.push(g);
      }
    }
    return out.sort(compareGrants).map(toGrant);
  }

  async purgeExpired(now: number): Promise<number> {
    let n = 0;
    for (const s of this.resources.values()) {
      for (const [h, g] of s.grants) {
        if (!isLive(g, now)) {
          s.grants.delete(h);
          n++;
        }
      }
    }
    return n;
  }

  async maxToken(): Promise<number> {
    let max = 0;
    for (const s of this.resources.values()) max = Math.max(max, s.fence);
    return max;
  }
}
