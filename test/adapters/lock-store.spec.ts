import { join } from 'node:path';
import { createMemoryAdapters } from '../../src/adapters/memory';
import { createSqliteAdapters } from '../../src/adapters/sqlite';
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
