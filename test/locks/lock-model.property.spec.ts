import fc from 'fast-check';
import { join } from 'node:path';
import { MemoryLockStore } from '../../src/adapters/memory';
import { createSqliteAdapters } from '../../src/adapters/sqlite';
import type { PersistenceAdapters } from '../../src/ports/persistence-adapters.port';
import { DomainError } from '../../src/domain/errors';
import type { LockGrant, LockMode } from '../../src/domain/lock';
import type { LockStore } from '../../src/ports/lock-store.port';
import { LockManager } from '../../src/modules/locks/lock-manager.service';
import { FakeClock } from '../helpers/fake-clock';
import { tempHome } from '../helpers/temp-home';

/**
 * Reference model: a flat list of grants, checked the obvious way. Expired grants stay in the list
 * until someone acquires their resource (that is when stores clean them up), which is what decides
 * between "expired" and "not held" for their late holder.
 */
interface MGrant {
  r: string;
  h: string;
  mode: LockMode;
  token: number;
  count: number;
  ttl: number;
  exp: number;
}
interface Model {
  now: number;
  grants: MGrant[];
  fence: Record<string, number>;
}
type Result =
  | { ok: Pick<LockGrant, 'holder' | 'mode' | 'token' | 'count'> & { exp: number } }
  | { err: string };

const live = (m: Model, r: string) => m.grants.filter((g) => g.r === r && g.exp > m.now);
const okOf = (g: MGrant): Result => ({
  ok: { holder: g.h, mode: g.mode, token: g.token, count: g.count, exp: g.exp },
});
function refusal(m: Model, r: string, h: string): Result {
  const own = m.grants.find((g) => g.r === r && g.h === h);
  if (own) return { err: 'LEASE_EXPIRED' };
  const blocking = live(m, r).filter((g) => g.h !== h && g.mode === 'exclusive');
  return { err: blocking.length ? 'LOCK_HELD' : 'NOT_ATTACHED' };
}

function modelAcquire(m: Model, r: string, h: string, mode: LockMode, ttl: number): Result {
  m.grants = m.grants.filter((g) => g.r !== r || g.exp > m.now);
  const others = live(m, r).filter((g) => g.h !== h);
  if (mode === 'exclusive' ? others.length > 0 : others.some((g) => g.mode === 'exclusive'))
    return { err: 'LOCK_HELD' };
  const own = m.grants.find((g) => g.r === r && g.h === h);
  if (own) {
    own.count++;
    if (mode === 'exclusive') own.mode = 'exclusive';
    own.ttl = ttl;
    own.exp = Math.max(own.exp, m.now + ttl);
    return okOf(own);
  }
  m.fence[r] = (m.fence[r] ?? 0) + 1;
  const g = { r, h, mode, token: m.fence[r], count: 1, ttl, exp: m.now + ttl };
  m.grants.push(g);
  return okOf(g);
}

function modelRelease(m: Model, r: string, h: string, all: boolean): Result {
  const own = m.grants.find((g) => g.r === r && g.h === h && g.exp > m.now);
  if (!own) return refusal(m, r, h);
  own.count = all ? 0 : own.count - 1;
  if (own.count === 0) m.grants = m.grants.filter((g) => g !== own);
  return okOf(own);
}

function modelRenew(m: Model, r: string, h: string, ttl: number | undefined): Result {
  const own = m.grants.find((g) => g.r === r && g.h === h && g.exp > m.now);
  if (!own) return refusal(m, r, h);
  own.ttl = ttl ?? own.ttl;
  own.exp = m.now + own.ttl;
  return okOf(own);
}

interface Real {
  locks: LockManager;
  clock: FakeClock;
  prefix: string;
}

async function outcome(p: Promise<LockGrant | { grant: LockGrant }>): Promise<Result> {
  try {
    const v = await p;
    const g = 'grant' in v ? v.grant : v;
    return {
      ok: {
        holder: g.holder,
        mode: g.mode,
        token: g.token,
        count: g.count,
        exp: Date.parse(g.expiresAt),
      },
    };
  } catch (err) {
    if (err instanceof DomainError) return { err: err.code };
    throw err;
  }
}

const RESOURCES = ['x', 'y'];
const HOLDERS = ['a', 'b', 'c'];

type Cmd = fc.AsyncCommand<Model, Real>;

function cmd(name: string, apply: (m: Model) => Result, act: (r: Real) => Promise<Result>): Cmd {
  return {
    check: () => true,
    async run(m, real) {
      const expected = apply(m);
      const actual = await act(real);
      expect(actual).toEqual(expected);
      // Invariants, on the real system: at most one exclusive holder, never mixed with collaborative.
      for (const r of RESOURCES) {
        const grants = await real.locks.listLocks({ resource: real.prefix + r });
        const excl = grants.filter((g) => g.mode === 'exclusive');
        expect(excl.length === 0 || grants.length === 1).toBe(true);
        expect(grants.map((g) => g.holder).sort()).toEqual(
          live(m, r)
            .map((g) => g.h)
            .sort(),
        );
      }
    },
    toString: () => name,
  };
}

const arbCommands = fc.commands(
  [
    fc
      .record({
        r: fc.constantFrom(...RESOURCES),
        h: fc.constantFrom(...HOLDERS),
        mode: fc.constantFrom<LockMode>('exclusive', 'collaborative'),
        ttl: fc.constantFrom(100, 500, 2000),
      })
      .map(({ r, h, mode, ttl }) =>
        cmd(
          `acquire(${r},${h},${mode},${ttl})`,
          (m) => modelAcquire(m, r, h, mode, ttl),
          (x) => outcome(x.locks.acquireLock(x.prefix + r, h, mode, { ttlMs: ttl })),
        ),
      ),
    fc
      .record({
        r: fc.constantFrom(...RESOURCES),
        h: fc.constantFrom(...HOLDERS),
        all: fc.boolean(),
      })
      .map(({ r, h, all }) =>
        cmd(
          `release(${r},${h}${all ? ',all' : ''})`,
          (m) => modelRelease(m, r, h, all),
          (x) => outcome(x.locks.releaseLock(x.prefix + r, h, { all })),
        ),
      ),
    fc
      .record({
        r: fc.constantFrom(...RESOURCES),
        h: fc.constantFrom(...HOLDERS),
        ttl: fc.option(fc.constantFrom(100, 1000), { nil: undefined }),
      })
      .map(({ r, h, ttl }) =>
        cmd(
          `renew(${r},${h},${ttl})`,
          (m) => modelRenew(m, r, h, ttl),
          (x) => outcome(x.locks.renewLock(x.prefix + r, h, { ttlMs: ttl })),
        ),
      ),
    fc.integer({ min: 1, max: 1500 }).map((ms) => ({
      check: () => true,
      async run(m: Model, real: Real) {
        m.now += ms;
        real.clock.advance(ms);
      },
      toString: () => `advance(${ms})`,
    })),
  ],
  { maxCommands: 40 },
);

function property(store: () => LockStore, runs: number) {
  let n = 0;
  return fc.assert(
    fc.asyncProperty(arbCommands, async (cmds) => {
      const clock = new FakeClock();
      const real: Real = { locks: new LockManager(store(), clock), clock, prefix: `run${n++}:` };
      const model: Model = { now: clock.ms, grants: [], fence: {} };
      await fc.asyncModelRun(() => ({ model, real }), cmds);
    }),
    { numRuns: runs },
  );
}

describe('lock state machine vs a reference model (fast-check)', () => {
  it('in-memory store', async () => {
    await property(() => new MemoryLockStore(), 300);
  });

  describe('SQLite store', () => {
    const home = tempHome();
    let adapters: PersistenceAdapters;
    beforeAll(async () => {
      adapters = await createSqliteAdapters({
        path: join(home.dir, 'model.db'),
        busyTimeoutMs: 5000,
      });
    });
    afterAll(async () => {
      await adapters.close();
      home.cleanup();
    });
    it('matches the model', async () => {
      await property(() => adapters.locks, 100);
    });
  });
});
