import { openPostgresDataSource, PostgresLockStore, rawPool } from '../../src/adapters/postgres';
import { describeLockStoreContract } from '../contract/lock-store.contract';
import { describePg, freshDatabase } from '../helpers/postgres';

describePg('Postgres lock store', () => {
  describeLockStoreContract('postgres (throwaway server)', async () => {
    const db = await freshDatabase();
    const ds = await openPostgresDataSource({ url: db.url, poolSize: 4, connectTimeoutMs: 5000 });
    return {
      store: new PostgresLockStore(rawPool(ds)),
      close: async () => {
        await ds.destroy();
        await db.drop();
      },
    };
  });
});
