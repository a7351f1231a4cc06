import type { LockStore } from '../../src/ports/lock-store.port';

export interface LockStoreHandle {
  store: LockStore;
  close(): Promise<void>;
}

const T0 = Date.parse('2026-01-01T00:00:00.000Z');

/** The behaviour every LockStore must have. Run it against each adapter. */
export function describeLockStoreContract(
  name: string,
  open: () => Promise<LockStoreHandle>,
): void {
  describe(`LockStore contract: ${name}`, () => {
    let h: LockStoreHandle;
    let s: LockStore;
    beforeEach(async () => {
      h = await open();
      s = h.store;
    });
    afterEach(async () => {
      await h.close();
    });

    const acq = (
      resource: string,
      holder: string,
      mode: 'exclusive' | 'collaborative' = 'exclusive',
      now = T0,
      ttlMs = 1000,
    ) => s.acquire({ resource, holder, mode, ttlMs, now });

    it('grants an exclusive lock and refuses a second holder, naming the first', async () => {
      const a = await acq('r', 'a');
      expect(a).toMatchObject({
        ok: true,
        reentered: false,
        grant: {
          resource: 'r',
          holder: 'a',
          mode: 'exclusive',
          count: 1,
          ttlMs: 1000,
          acquiredAt: '2026-01-01T00:00:00.000Z',
          expiresAt: '2026-01-01T00:00:01.000Z',
        },
      });
      const b = await acq('r', 'b', 'exclusive', T0 + 10);
      expect(b.ok).toBe(false);
      if (!b.ok) expect(b.holders.map((g) => g.holder)).toEqual(['a']);
      expect((await acq('r', 'c', 'collaborative', T0 + 10)).ok).toBe(false);
      expect((await acq('other', 'b', 'exclusive', T0 + 10)).ok).toBe(true);
    });

    it('collaborative holders share, and exclude exclusive ones both ways', async () => {
      for (const who of ['a', 'b', 'c'])
        expect((await acq('r', who, 'collaborative')).ok).toBe(true);
      const x = await acq('r', 'x', 'exclusive');
      expect(x.ok).toBe(false);
      if (!x.ok) expect(x.holders.map((g) => g.holder).sort()).toEqual(['a', 'b', 'c']);
      expect((await acq('q', 'x', 'exclusive')).ok).toBe(true);
      expect((await acq('q', 'a', 'collaborative')).ok).toBe(false);
      expect((await s.list({ resource: 'r' }, T0)).length).toBe(3);
    });

    it('counts re-entry: same token, one release does not drop a lock still held', async () => {
      const first = await acq('r', 'a');
      const again = await acq('r', 'a', 'exclusive', T0 + 100);
      expect(again).toMatchObject({ ok: true, reentered: true, grant: { count: 2 } });
      if (!first.ok || !again.ok) throw new Error('unreachable');
      expect(again.grant.token).toBe(first.grant.token);
      const r1 = await s.release('r', 'a', { now: T0 + 200 });
      expect(r1).toMatchObject({ ok: true, remaining: 1 });
      expect((await acq('r', 'b', 'exclusive', T0 + 200)).ok).toBe(false);
      expect(await s.release('r', 'a', { now: T0 + 300 })).toMatchObject({
        ok: true,
        remaining: 0,
      });
      expect((await acq('r', 'b', 'exclusive', T0 + 300)).ok).toBe(true);
    });

    it('release with all drops every acquisition at once', async () => {
      await acq('r', 'a');
      await acq('r', 'a');
      await acq('r', 'a');
      expect(await s.release('r', 'a', { now: T0, all: true })).toMatchObject({ remaining: 0 });
      expect(await s.list({}, T0)).toEqual([]);
    });

    it('re-entry extends the lease but never shortens it', async () => {
      await acq('r', 'a', 'exclusive', T0, 10_000);
      const again = await acq('r', 'a', 'exclusive', T0 + 10, 100);
      if (!again.ok) throw new Error('refused');
      expect(again.grant.expiresAt).toBe('2026-01-01T00:00:10.000Z');
    });

    it('fencing tokens strictly increase per resource, across release and expiry', async () => {
      const tokens: number[] = [];
      let now = T0;
      for (let i = 0; i < 5; i++) {
        const g = await acq('r', `h${i % 2}`, 'exclusive', now);
        if (!g.ok) throw new Error('refused');
        tokens.push(g.grant.token);
        if (i % 2) await s.release('r', `h${i % 2}`, { now });
        else now += 2000; // let it expire instead
      }
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]);
      const c1 = await acq('r', 'c1', 'collaborative', now + 5000);
      const c2 = await acq('r', 'c2', 'collaborative', now + 5000);
      if (!c1.ok || !c2.ok) throw new Error('refused');
      expect(c1.grant.token).toBeGreaterThan(tokens[4]);
      expect(c2.grant.token).toBeGreaterThan(c1.grant.token);
    });

    it('maxToken (when implemented) is the highest token ever issued, kept after release', async () => {
      if (!s.maxToken) return;
      expect(await s.maxToken()).toBe(0);
      let top = 0;
      for (const r of ['a', 'b', 'a']) {
        const g = await acq(r, 'h');
        if (!g.ok) throw new Error('refused');
        top = Math.max(top, g.grant.token);
        await s.release(r, 'h', { now: T0 });
      }
      expect(await s.maxToken()).toBe(top);
      await s.purgeExpired(T0 + 10_000);
      expect(await s.maxToken()).toBe(top);
    });

    it('an expired lease conflicts with nobody; the next holder gets a higher token', async () => {
      const a = await acq('r', 'a', 'exclusive', T0, 1000);
      expect((await acq('r', 'b', 'exclusive', T0 + 999)).ok).toBe(false);
      const b = await acq('r', 'b', 'exclusive', T0 + 1000);
      if (!a.ok || !b.ok) throw new Error('refused');
      expect(b.grant.token).toBeGreaterThan(a.grant.token);
      // a's grant was cleaned up by b's acquisition: a no longer holds anything
      const rel = await s.release('r', 'a', { now: T0 + 1001 });
      expect(rel).toMatchObject({ ok: false, reason: 'not-held' });
      if (!rel.ok) expect(rel.holders.map((g) => g.holder)).toEqual(['b']);
    });

    it('renew extends a live lease (stored TTL by default) and never revives an expired one', async () => {
      await acq('r', 'a', 'exclusive', T0, 1000);
      const r = await s.renew('r', 'a', { now: T0 + 900 });
      expect(r).toMatchObject({
        ok: true,
        grant: { expiresAt: '2026-01-01T00:00:01.900Z', ttlMs: 1000 },
      });
      const r2 = await s.renew('r', 'a', { now: T0 + 1000, ttlMs: 5000 });
      expect(r2).toMatchObject({ ok: true, grant: { expiresAt: '2026-01-01T00:00:06.000Z' } });
      const late = await s.renew('r', 'a', { now: T0 + 6000 });
      expect(late).toMatchObject({
        ok: false,
        reason: 'expired',
        own: { expiresAt: '2026-01-01T00:00:06.000Z' },
      });
      expect(await s.release('r', 'a', { now: T0 + 6000 })).toMatchObject({ reason: 'expired' });
      expect(await s.renew('r', 'nobody', { now: T0 })).toMatchObject({ reason: 'not-held' });
    });

    it('a lazy renew within a quarter of the TTL checks without writing; after it, it renews', async () => {
      const first = await acq('r', 'a', 'exclusive', T0, 1000);
      if (!first.ok) throw new Error('refused');
      // 200 ms of 1000: checked, not extended (expiry and renewedAt unchanged).
      const early = await s.renew('r', 'a', { now: T0 + 200, lazy: true });
      expect(early).toMatchObject({
        ok: true,
        grant: { expiresAt: '2026-01-01T00:00:01.000Z', renewedAt: '2026-01-01T00:00:00.000Z' },
      });
      // Still a check: a wrong token, another holder and a lapsed lease are refused.
      expect(
        await s.renew('r', 'a', { now: T0 + 200, lazy: true, token: first.grant.token + 1 }),
      ).toMatchObject({ ok: false, reason: 'superseded' });
      expect(await s.renew('r', 'b', { now: T0 + 200, lazy: true })).toMatchObject({
        ok: false,
        reason: 'not-held',
      });
      // An explicit new TTL is always written.
      expect(await s.renew('r', 'a', { now: T0 + 200, lazy: true, ttlMs: 2000 })).toMatchObject({
        ok: true,
        grant: { expiresAt: '2026-01-01T00:00:02.200Z', ttlMs: 2000 },
      });
      // 600 ms after that renewal (over a quarter of 2000): renewed.
      expect(await s.renew('r', 'a', { now: T0 + 800, lazy: true })).toMatchObject({
        ok: true,
        grant: { expiresAt: '2026-01-01T00:00:02.800Z', renewedAt: '2026-01-01T00:00:00.800Z' },
      });
      expect(await s.renew('r', 'a', { now: T0 + 2800, lazy: true })).toMatchObject({
        ok: false,
        reason: 'expired',
      });
    });

    it('refuses a stale fencing token as superseded', async () => {
      const first = await acq('r', 'a', 'exclusive', T0);
      const again = await acq('r', 'a', 'exclusive', T0 + 2000); // first lapsed: new grant
      if (!first.ok || !again.ok) throw new Error('refused');
      expect(again.reentered).toBe(false);
      expect(await s.renew('r', 'a', { now: T0 + 2001, token: first.grant.token })).toMatchObject({
        ok: false,
        reason: 'superseded',
      });
      expect(await s.release('r', 'a', { now: T0 + 2001, token: first.grant.token })).toMatchObject(
        { ok: false, reason: 'superseded' },
      );
      expect(await s.release('r', 'a', { now: T0 + 2001, token: again.grant.token })).toMatchObject(
        { ok: true },
      );
    });

    it('release by a non-holder is refused and names the holders', async () => {
      await acq('r', 'a');
      const out = await s.release('r', 'b', { now: T0 });
      expect(out).toMatchObject({ ok: false, reason: 'not-held' });
      if (!out.ok) expect(out.holders.map((g) => g.holder)).toEqual(['a']);
      expect((await s.list({ resource: 'r' }, T0)).length).toBe(1);
      expect(await s.release('nothing', 'b', { now: T0 })).toMatchObject({
        ok: false,
        reason: 'not-held',
        holders: [],
      });
    });

    it('upgrades a lone collaborative holder to exclusive; an exclusive holder stays exclusive', async () => {
      await acq('r', 'a', 'collaborative');
      const up = await acq('r', 'a', 'exclusive');
      expect(up).toMatchObject({
        ok: true,
        reentered: true,
        grant: { mode: 'exclusive', count: 2 },
      });
      expect((await acq('r', 'b', 'collaborative')).ok).toBe(false);
      const down = await acq('r', 'a', 'collaborative');
      expect(down).toMatchObject({ ok: true, grant: { mode: 'exclusive', count: 3 } });
      await acq('q', 'a', 'collaborative');
      await acq('q', 'b', 'collaborative');
      expect((await acq('q', 'a', 'exclusive')).ok).toBe(false);
    });

    it('lists live grants by resource and holder, ordered, and purges expired ones', async () => {
      await acq('b', 'x', 'exclusive', T0, 5000);
      await acq('a', 'y', 'collaborative', T0, 5000);
      await acq('a', 'x', 'collaborative', T0, 500);
      expect((await s.list({}, T0)).map((g) => `${g.resource}/${g.holder}`)).toEqual([
        'a/y',
        'a/x',
        'b/x',
      ]);
      expect((await s.list({ holder: 'x' }, T0)).length).toBe(2);
      expect((await s.list({ resource: 'a', holder: 'x' }, T0)).length).toBe(1);
      expect((await s.list({ holder: 'x' }, T0 + 500)).map((g) => g.resource)).toEqual(['b']);
      expect(await s.purgeExpired(T0 + 500)).toBe(1);
      expect(await s.purgeExpired(T0 + 500)).toBe(0);
      expect((await s.list({}, T0 + 5000)).length).toBe(0);
    });

    it('concurrent acquisitions of an exclusive lock: exactly one wins', async () => {
      const outs = await Promise.all(
        Array.from({ length: 20 }, (_, i) => acq('hot', `h${i}`, 'exclusive', T0)),
      );
      expect(outs.filter((o) => o.ok).length).toBe(1);
    });
  });
}
