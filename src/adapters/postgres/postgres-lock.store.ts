import type { Pool, PoolClient } from 'pg';
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
  HolderRefusal,
  LockGrant,
  LockListFilter,
  LockStore,
  ReleaseOutcome,
  RenewOutcome,
} from '../../ports/lock-store.port';

const COLUMNS = `resource, holder, mode, token::float8 AS token, count, ttl_ms AS "ttlMs",
  acquired_at::float8 AS "acquiredAt", renewed_at::float8 AS "renewedAt", expires_at::float8 AS "expiresAt"`;

/**
 * Leases in Postgres, safe across processes and hosts. Each operation is one transaction that
 * first takes `pg_advisory_xact_lock(hashtext(resource))`: transaction-scoped, so it is released
 * at COMMIT/ROLLBACK and stays correct behind a transaction-pooling proxy (a session lock would
 * not). Tokens come from the `lock_fencing_tokens` sequence.
 */
export class PostgresLockStore implements LockStore {
  constructor(private readonly pool: Pool) {}

  private async tx<T>(resource: string, fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [resource]);
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }

  private async own(
    c: PoolClient,
    resource: string,
    holder: string,
  ): Promise<GrantRecord | undefined> {
    const { rows } = await c.query<GrantRecord>(
      `SELECT ${COLUMNS} FROM lock_grants WHERE resource = $1 AND holder = $2`,
      [resource, holder],
    );
    return rows[0];
  }

  private async save(c: PoolClient, r: GrantRecord): Promise<void> {
    await c.query(
      `UPDATE lock_grants SET mode = $3, count = $4, ttl_ms = $5, renewed_at = $6, expires_at = $7
       WHERE resource = $1 AND holder = $2`,
      [r.resource, r.holder, r.mode, r.count, r.ttlMs, r.renewedAt, r.expiresAt],
    );
  }

  private async refusal(
    c: PoolClient,
    resource: string,
    holder: string,
    now: number,
    reason: ReturnType<typeof holderRefusalReason>,
    own: GrantRecord | undefined,
  ): Promise<HolderRefusal> {
    const { rows } = await c.query<GrantRecord>(
      `SELECT ${COLUMNS} FROM lock_grants WHERE resource = $1 AND holder <> $2 AND expires_at > $3 ORDER BY token`,
      [resource, holder, now],
    );
    return {
      ok: false,
      reason: reason ?? 'not-held',
      ...(own ? { own: toGrant(own) } : {}),
      holders: rows.map(toGrant),
    };
  }

  acquire(req: AcquireRequest): Promise<AcquireOutcome> {
    return this.tx(req.resource, async (c) => {
      await c.query('DELETE FROM lock_grants WHERE resource = $1 AND expires_at <= $2', [
        req.resource,
        req.now,
      ]);
      const { rows: live } = await c.query<GrantRecord>(
        `SELECT ${COLUMNS} FROM lock_grants WHERE resource = $1`,
        [req.resource],
      );
      const d = decideAcquire(live, req);
      if (d.kind === 'conflict') {
        return { ok: false, holders: d.holders.sort((a, b) => a.token - b.token).map(toGrant) };
      }
      if (d.kind === 'reenter') {
        await this.save(c, d.record);
        return { ok: true, grant: toGrant(d.record), reentered: true };
      }
      const { rows } = await c.query<{ token: number }>(
        `SELECT nextval('lock_fencing_tokens')::float8 AS token`,
      );
      const rec = newGrantRecord(req, rows[0].token);
      await c.query(
        `INSERT INTO lock_grants (resource, holder, mode, token, count, ttl_ms, acquired_at, renewed_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          rec.resource,
          rec.holder,
          rec.mode,
          rec.token,
          rec.count,
          rec.ttlMs,
          rec.acquiredAt,
          rec.renewedAt,
          rec.expiresAt,
        ],
      );
      return { ok: true, grant: toGrant(rec), reentered: false };
    });
  }

  release(
    resource: string,
    holder: string,
    opts: { now: number; all?: boolean; token?: number },
  ): Promise<ReleaseOutcome> {
    return this.tx(resource, async (c) => {
      const own = await this.own(c, resource, holder);
      const reason = holderRefusalReason(own, opts.now, opts.token);
      if (reason || !own) return this.refusal(c, resource, holder, opts.now, reason, own);
      if (opts.all || own.count <= 1) {
        await c.query('DELETE FROM lock_grants WHERE resource = $1 AND holder = $2', [
          resource,
          holder,
        ]);
        return { ok: true as const, remaining: 0, grant: toGrant({ ...own, count: 0 }) };
      }
      const next = { ...own, count: own.count - 1 };
      await this.save(c, next);
      return { ok: true as const, remaining: next.count, grant: toGrant(next) };
    });
  }

  async renew(
    resource: string,
    holder: string,
    opts: { now: number; ttlMs?: number; token?: number; lazy?: boolean },
  ): Promise<RenewOutcome> {
    if (opts.lazy) {
      // One round trip instead of five (BEGIN, advisory lock, read, write, COMMIT).
      const { rows } = await this.pool.query<GrantRecord>(
        `SELECT ${COLUMNS} FROM lock_grants WHERE resource = $1 AND holder = $2`,
        [resource, holder],
      );
      const grant = grantIfRenewalCanWait(rows[0], opts);
      if (grant) return { ok: true, grant };
    }
    return this.tx(resource, async (c) => {
      const own = await this.own(c, resource, holder);
      const reason = holderRefusalReason(own, opts.now, opts.token);
      if (reason || !own) return this.refusal(c, resource, holder, opts.now, reason, own);
      if (renewalCanWait(own, opts)) return { ok: true as const, grant: toGrant(own) };
      const ttlMs = opts.ttlMs ?? own.ttlMs;
      const next = { ...own, ttlMs, renewedAt: opts.now, expiresAt: opts.now + ttlMs };
      await this.save(c, next);
      return { ok: true as const, grant: toGrant(next) };
    });
  }

  async list(filter: LockListFilter, now: number): Promise<LockGrant[]> {
    const params: unknown[] = [now];
    const where = ['expires_at > $1'];
    if (filter.resource !== undefined) where.push(`resource = $${params.push(filter.resource)}`);
    if (filter.holder !== undefined) where.push(`holder = $${params.push(filter.holder)}`);
    const { rows } = await this.pool.query<GrantRecord>(
      `SELECT ${COLUMNS} FROM lock_grants WHERE ${where.join(' AND ')} ORDER BY resource, token`,
      params,
    );
    return rows.map(toGrant);
  }

  async purgeExpired(now: number): Promise<number> {
    const res = await this.pool.query('DELETE FROM lock_grants WHERE expires_at <= $1', [now]);
    return res.rowCount ?? 0;
  }

  async maxToken(): Promise<number> {
    const { rows } = await this.pool.query<{ t: number }>(
      'SELECT (CASE WHEN is_called THEN last_value ELSE 0 END)::float8 AS t FROM lock_fencing_tokens',
    );
    return rows[0].t;
  }
}
