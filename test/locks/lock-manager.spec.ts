import { MemoryLockStore } from '../../src/adapters/memory';
import { DomainError } from '../../src/domain/errors';
import { LockManager } from '../../src/modules/locks/lock-manager.service';
import { systemClock } from '../../src/ports/clock.port';
import { FakeClock } from '../helpers/fake-clock';

async function codeOf(p: Promise<unknown>): Promise<DomainError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a DomainError');
}

describe('LockManager', () => {
  let clock: FakeClock;
  let locks: LockManager;
  beforeEach(() => {
    clock = new FakeClock();
    locks = new LockManager(new MemoryLockStore(), clock);
  });

  it('grants with the default 30s TTL and refuses others with LOCK_HELD naming holder and expiry', async () => {
    const g = await locks.acquireLock('repo', 'a');
    expect(g).toMatchObject({ mode: 'exclusive', count: 1, ttlMs: 30_000, token: 1 });
    clock.advance(5000);
    const err = await codeOf(locks.acquireLock('repo', 'b'));
    expect(err.code).toBe('LOCK_HELD');
    expect(err.message).toBe(
      "lock 'repo' is held by 'a' (exclusive, token 1) until 2026-01-01T00:00:30.000Z (in 25.0s)",
    );
    expect(err.details).toMatchObject({ holders: [{ holder: 'a', token: 1 }] });
  });

  it('rejects bad input with VALIDATION errors that name the field', async () => {
    const cases: [Promise<unknown>, RegExp][] = [
      [
        locks.acquireLock('r', 'a', 'shared' as never),
        /^mode: must be one of: exclusive, collaborative/,
      ],
      [locks.acquireLock('r', 'a', 'exclusive', { ttlMs: -5 }), /^ttl: must be at least 100ms/],
      [locks.acquireLock('r', 'a', 'exclusive', { ttlMs: 0 }), /^ttl: must be at least 100ms/],
      [
        locks.acquireLock('r', 'a', 'exclusive', { ttlMs: 48 * 3_600_000 }),
        /^ttl: must be at most 24h/,
      ],
      [locks.acquireLock('r', 'a', 'exclusive', { ttlMs: NaN }), /^ttl: /],
      [locks.acquireLock('', 'a'), /^resource: must not be empty/],
      [locks.acquireLock('r', '  '), /^holder: must not be empty/],
      [
        locks.acquireLockWithRetry('r', 'a', 'exclusive', { waitMs: -1 }),
        /^wait: must not be negative/,
      ],
      [locks.renewLock('r', 'a', { ttlMs: 1e12 }), /^ttl: must be at most 24h/],
    ];
    for (const [p, msg] of cases) {
      const err = await codeOf(p);
      expect(err.code).toBe('VALIDATION');
      expect(err.message).toMatch(msg);
    }
    expect(await locks.listLocks()).toEqual([]);
  });

  it('release by a non-holder is refused, naming who holds it; nothing changes', async () => {
    await locks.acquireLock('r', 'a');
    const held = await codeOf(locks.releaseLock('r', 'b'));
    expect(held.code).toBe('LOCK_HELD');
    expect(held.message).toMatch(
      /holder 'b' does not hold lock 'r'.*held by 'a' \(exclusive, token 1\)/,
    );
    const none = await codeOf(locks.releaseLock('free', 'b'));
    expect(none.code).toBe('NOT_ATTACHED');
    expect(none.message).toBe("holder 'b' does not hold lock 'free' (nobody does)");
    expect((await locks.listLocks()).map((g) => g.holder)).toEqual(['a']);
  });

  it('an expired lease cannot be released or renewed: LEASE_EXPIRED says when it ran out', async () => {
    await locks.acquireLock('r', 'a', 'exclusive', { ttlMs: 1000 });
    clock.advance(1500);
    const err = await codeOf(locks.renewLock('r', 'a'));
    expect(err.code).toBe('LEASE_EXPIRED');
    expect(err.message).toMatch(/expired at 2026-01-01T00:00:01.000Z \(500ms ago\)/);
    expect((await codeOf(locks.releaseLock('r', 'a'))).code).toBe('LEASE_EXPIRED');
    const stale = await codeOf(locks.releaseLock('r', 'a', { token: 99 }));
    expect(stale.code).toBe('LEASE_EXPIRED');
  });

  it('re-entry is counted: the lock stays until the last release', async () => {
    const g1 = await locks.acquireLock('r', 'a');
    const g2 = await locks.acquireLock('r', 'a');
    expect(g2.token).toBe(g1.token);
    expect((await locks.releaseLock('r', 'a')).remaining).toBe(1);
    await expect(locks.acquireLock('r', 'b')).rejects.toMatchObject({ code: 'LOCK_HELD' });
    expect((await locks.releaseLock('r', 'a')).remaining).toBe(0);
    expect((await locks.acquireLock('r', 'b')).token).toBe(2);
  });

  it('acquireLockWithRetry waits for a release, with backoff, until the deadline', async () => {
    const real = new LockManager(new MemoryLockStore(), systemClock);
    await real.acquireLock('r', 'a', 'exclusive', { ttlMs: 10_000 });
    setTimeout(() => void real.releaseLock('r', 'a'), 80);
    const t0 = performance.now();
    const g = await real.acquireLockWithRetry('r', 'b', 'exclusive', { waitMs: 2000 });
    expect(g.holder).toBe('b');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(75);

    const t1 = performance.now();
    const err = await codeOf(real.acquireLockWithRetry('r', 'c', 'exclusive', { waitMs: 150 }));
    const waited = performance.now() - t1;
    expect(err.code).toBe('LOCK_HELD');
    expect(err.message).toMatch(/held by 'b'.*gave up after waiting 150ms \(\d+ attempts\)/);
    expect(waited).toBeGreaterThanOrEqual(145);
    expect(waited).toBeLessThan(1000);
  });

  it('acquireLockWithRetry wakes up when the lease in the way expires', async () => {
    const real = new LockManager(new MemoryLockStore(), systemClock);
    await real.acquireLock('r', 'crashed', 'exclusive', { ttlMs: 200 });
    const t0 = performance.now();
    const g = await real.acquireLockWithRetry('r', 'b', 'exclusive', {
      waitMs: 5000,
      initialDelayMs: 1000,
      maxDelayMs: 1000,
    });
    expect(g.token).toBe(2);
    expect(performance.now() - t0).toBeLessThan(600); // did not sleep the full 1s backoff
  });

  it('withLock releases after success and after a throw, and returns the result', async () => {
    expect(await locks.withLock('r', 'a', (g) => g.token * 10)).toBe(10);
    expect(await locks.listLocks()).toEqual([]);
    await expect(
      locks.withLock('r', 'a', () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await locks.listLocks()).toEqual([]);
    // nested use by the same holder is re-entrant
    await locks.withLock('r', 'a', async () => {
      await locks.withLock('r', 'a', async (inner) => expect(inner.count).toBe(2));
      expect((await locks.listLocks())[0].count).toBe(1);
    });
    expect(await locks.listLocks()).toEqual([]);
  });

  it('withLock renews the lease while the work runs', async () => {
    const real = new LockManager(new MemoryLockStore(), systemClock);
    const signals: AbortSignal[] = [];
    await real.withLock(
      'r',
      'a',
      async (_g, signal) => {
        signals.push(signal);
        await new Promise((r) => setTimeout(r, 450));
      },
      { ttlMs: 150 },
    );
    expect(signals[0].aborted).toBe(false);
    expect(await real.listLocks()).toEqual([]);
  });

  it('withLock reports a lease lost during the work', async () => {
    await expect(
      locks.withLock(
        'r',
        'a',
        async () => {
          clock.advance(60_000);
          await locks.acquireLock('r', 'b');
        },
        { autoRenew: false },
      ),
    ).rejects.toMatchObject({ code: 'LOCK_HELD' });
  });
});
