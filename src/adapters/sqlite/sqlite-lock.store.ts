import type BetterSqlite3 from 'better-sqlite3';
import { DomainError } from '../../domain/errors';
import {
  decideAcquire,
  grantIfRenewalCanWait,
  holderRefusalReason,
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

const COLUMNS = `resource, holder, mode, token, count, ttl_ms AS ttlMs, acquired_at AS acquiredAt,
  renewed_at AS renewedAt, expires_at AS expiresAt`;

/** How often a write that still finds the database busy after the busy timeout is retried. */
const BUSY_RETRIES = 3;

const isBusy = (err: unknown): boolean =>
  /^SQLITE_(BUSY|LOCKED)/.test(String((err as { code?: unknown })?.code ?? ''));

/**
 * Leases in the shared SQLite file. Each operation is one `BEGIN IMMEDIATE` transaction: it takes
 * the write lock up front, so concurrent processes queue on the busy timeout (never a deadlock
 * from a read lock upgraded too late). Should a writer still find the file busy after the busy
 * timeout, the operation is retried a few times and then reported as STORAGE_UNAVAILABLE, so
 * callers never see a raw SQLITE_BUSY. Statements are prepared once and cached.
 */
export class SqliteLockStore implements LockStore {
  private readonly s: Record<string, BetterSqlite3.Statement>;
  /** The four shapes of `list` (filters by resource and/or holder), prepared on first use. */
  private readonly listStmts = new Map<string, BetterSqlite3.Statement>();
  private readonly acquireTx: (req: AcquireRequest) => AcquireOutcome;
  private readonly releaseTx: (
    resource: string,
    holder: string,
    o: { now: number; all?: boolean; token?: number },
  ) => ReleaseOutcome;
  private readonly renewTx: (
    resource: string,
    holder: string,
    o: { now: number; ttlMs?: number; token?: number; lazy?: boolean },
  ) => RenewOutcome;

  constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly busyTimeoutMs = 10_000,
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      purgeResource: p('DELETE FROM lock_grants WHERE resource = ? AND expires_at <= ?'),
      byResource: p(`SELECT ${COLUMNS} FROM lock_grants WHERE resource = ?`),
      own: p(`SELECT ${COLUMNS} FROM lock_grants WHERE resource = ? AND holder = ?`),
      liveOthers: p(
        `SELECT ${COLUMNS} FROM lock_grants
         WHERE resource = ? AND holder <> ? AND expires_at > ? ORDER BY token`,
      ),
      nextFence: p(
        `INSERT INTO lock_fences (resource, token) VALUES (?, 1)
         ON CONFLICT (resource) DO UPDATE SET token = token + 1 RETURNING token`,
      ),
      insert: p(
        `INSERT INTO lock_grants
           (resource, holder, mode, token, count, ttl_ms, acquired_at, renewed_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      update: p(
        `UPDATE lock_grants SET mode = ?, count = ?, ttl_ms = ?, renewed_at = ?, expires_at = ?
         WHERE resource = ? AND holder = ?`,
      ),
      delete: p('DELETE FROM lock_grants WHERE resource = ? AND holder = ?'),
      purgeAll: p('DELETE FROM lock_grants WHERE expires_at <= ?'),
    };

    const acquire = db.transaction((req: AcquireRequest): AcquireOutcome => {
      this.s.purgeResource.run(req.resource, req.now);
      const live = this.s.byResource.all(req.resource) as GrantRecord[];
      const d = decideAcquire(live, req);
      if (d.kind === 'conflict') {
        return { ok: false, holders: d.holders.sort((a, b) => a.token - b.token).map(toGrant) };
      }
      if (d.kind === 'reenter') {
        this.update(d.record);
        return { ok: true, grant: toGrant(d.record), reentered: true };
      }
      const { token } = this.s.nextFence.get(req.resource) as { token: number };
      const rec = newGrantRecord(req, token);
      this.s.insert.run(
        rec.resource,
        rec.holder,
        rec.mode,
        rec.token,
        rec.count,
        rec.ttlMs,
        rec.acquiredAt,
        rec.renewedAt,
        rec.expiresAt,
      );
      return { ok: true, grant: toGrant(rec), reentered: false };
    });
    this.acquireTx = (req) => acquire.immediate(req);

    const release = db.transaction(
      (resource: string, holder: string, o: { now: number; all?: boolean; token?: number }) => {
        const own = this.s.own.get(resource, holder) as GrantRecord | undefined;
        const reason = holderRefusalReason(own, o.now, o.token);
        if (reason || !own) return this.refusal(resource, holder, o.now, reason, own);
        if (o.all || own.count <= 1) {
          this.s.delete.run(resource, holder);
          own.count = 0; // a fresh row object: the returned grant shows the lock is gone
          return { ok: true as const, remaining: 0, grant: toGrant(own) };
        }
        const next = { ...own, count: own.count - 1 };
        this.update(next);
        return { ok: true as const, remaining: next.count, grant: toGrant(next) };
      },
    );
    this.releaseTx = (r, h, o) => release.immediate(r, h, o);

    const renew = db.transaction(
      (
        resource: string,
        holder: string,
        o: { now: number; ttlMs?: number; token?: number; lazy?: boolean },
      ) => {
        const own = this.s.own.get(resource, holder) as GrantRecord | undefined;
        const reason = holderRefusalReason(own, o.now, o.token);
        if (reason || !own) return this.refusal(resource, holder, o.now, reason, own);
        if (renewalCanWait(own, o)) return { ok: true as const, grant: toGrant(own) };
        const ttlMs = o.ttlMs ?? own.ttlMs;
        const next = { ...own, ttlMs, renewedAt: o.now, expiresAt: o.now + ttlMs };
        this.update(next);
        return { ok: true as const, grant: toGrant(next) };
      },
    );
    this.renewTx = (r, h, o) => renew.immediate(r, h, o);
  }

  // Positional parameters: named ones cost ~1.5 µs more per statement in better-sqlite3.
  private update(r: GrantRecord): void {
    this.s.update.run(r.mode, r.count, r.ttlMs, r.renewedAt, r.expiresAt, r.resource, r.holder);
  }

  private refusal(
    resource: string,
    holder: string,
    now: number,
    reason: ReturnType<typeof holderRefusalReason>,
    own: GrantRecord | undefined,
  ) {
    const holders = (this.s.liveOthers.all(resource, holder, now) as GrantRecord[]).map(toGrant);
    return {
      ok: false as const,
      reason: reason ?? ('not-held' as const),
      ...(own ? { own: toGrant(own) } : {}),
      holders,
    };
  }

  /**
   * Runs a write, retrying if the file is still busy after the driver's busy timeout. The first
   * attempt runs synchronously (no async frame on the hot path).
   */
  private write<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      if (!isBusy(err)) return Promise.reject(err);
      return this.retry(fn);
    }
  }

  private async retry<T>(fn: () => T): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      await new Promise((r) => setTimeout(r, 20 * 2 ** attempt + Math.random() * 20));
      try {
        return fn();
      } catch (err) {
        if (!isBusy(err)) throw err;
        if (attempt >= BUSY_RETRIES) {
          throw new DomainError(
            'STORAGE_UNAVAILABLE',
            `the lock table stayed busy for more than ${Math.round(
              ((attempt + 1) * this.busyTimeoutMs) / 1000,
            )}s (another process holds a long write transaction); retry, or raise OPENCODE_SQLITE_BUSY_TIMEOUT`,
          );
        }
      }
    }
  }

  acquire(req: AcquireRequest): Promise<AcquireOutcome> {
    return this.write(() => this.acquireTx(req));
  }

  release(
    resource: string,
    holder: string,
    opts: { now: number; all?: boolean; token?: number },
  ): Promise<ReleaseOutcome> {
    return this.write(() => this.releaseTx(resource, holder, opts));
  }

  renew(
    resource: string,
    holder: string,
    opts: { now: number; ttlMs?: number; token?: number; lazy?: boolean },
  ): Promise<RenewOutcome> {
    return this.write(() => {
      if (opts.lazy) {
        // One read, no write lock: the check made before every action for an agent.
        const own = this.s.own.get(resource, holder) as GrantRecord | undefined;
        const grant = grantIfRenewalCanWait(own, opts);
        if (grant) return { ok: true as const, grant };
      }
      return this.renewTx(resource, holder, opts);
    });
  }

  list(filter: LockListFilter, now: number): Promise<LockGrant[]> {
    const where = ['expires_at > @now'];
    if (filter.resource !== undefined) where.push('resource = @resource');
    if (filter.holder !== undefined) where.push('holder = @holder');
    const sql = `SELECT ${COLUMNS} FROM lock_grants WHERE ${where.join(' AND ')} ORDER BY resource, token`;
    let stmt = this.listStmts.get(sql);
    if (!stmt) this.listStmts.set(sql, (stmt = this.db.prepare(sql)));
    const query = stmt;
    return this.write(() => (query.all({ now, ...filter }) as GrantRecord[]).map(toGrant));
  }

  purgeExpired(now: number): Promise<number> {
    return this.write(() => this.s.purgeAll.run(now).changes);
  }

  async maxToken(): Promise<number> {
    const r = this.db.prepare('SELECT COALESCE(MAX(token), 0) AS t FROM lock_fences').get() as {
      t: number;
    };
    return r.t;
  }
}
