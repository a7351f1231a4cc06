import { join } from 'node:path';
import { createMemoryAdapters } from '../../src/adapters/memory';
import { createSqliteAdapters, openSqlite, SqliteLockStore } from '../../src/adapters/sqlite';
import { DomainError } from '../../src/domain/errors';
import { describeLockStoreContract } from '../contract/lock-store.contract';
import { tempHome } from '../helpers/temp-home';

describeLockStoreContract('memory', async () => {
  const a = await createMemoryAdapters();
  return { store: a.locks, close: () => a.close() };
});

describeLockStoreContract('sqlite (real file)', async () => {
  const home = tempHome();
  const a = await createSqliteAdapters({ path: join(home.dir, 'db.sqlite'), busyTimeoutMs: 5000 });
  return {
    store: a.locks,
    close: async () => {
      await a.close();
      home.cleanup();
    },
  };
});

describe('SqliteLockStore under a busy database', () => {
  const home = tempHome();
  const path = join(home.dir, 'busy.sqlite');
  afterAll(() => home.cleanup());

  it("waits out another connection's write transaction; a file busy for too long is STORAGE_UNAVAILABLE, never SQLITE_BUSY", async () => {
    const hA = await openSqlite({ path, busyTimeoutMs: 50 });
    const hB = await openSqlite({ path, busyTimeoutMs: 50 });
    try {
      const a = hA.db;
      const b = new SqliteLockStore(hB.db, 50);
      const req = { resource: 'r', holder: 'h', mode: 'exclusive' as const, ttlMs: 1000, now: 0 };

      a.exec('BEGIN IMMEDIATE');
      setTimeout(() => a.exec('COMMIT'), 120);
      expect(await b.acquire(req)).toMatchObject({ ok: true });

      a.exec('BEGIN IMMEDIATE');
      const err = await b.acquire({ ...req, holder: 'other' }).catch((e: unknown) => e);
      a.exec('ROLLBACK');
      expect(err).toBeInstanceOf(DomainError);
      expect((err as DomainError).code).toBe('STORAGE_UNAVAILABLE');
      expect((err as DomainError).message).toMatch(/busy .*OPENCODE_SQLITE_BUSY_TIMEOUT/);
    } finally {
      await hA.close();
      await hB.close();
    }
  });
});
