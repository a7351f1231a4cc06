import { createPostgresAdapters } from '../../src/adapters/postgres';
import { describeLogStoreContract } from '../contract/log-store.contract';
import { describePg, freshDatabase } from '../helpers/postgres';
import { tempHome } from '../helpers/temp-home';

const LOG_MAX = 64 * 1024;

describePg('Postgres log store', () => {
  describeLogStoreContract('postgres (throwaway server)', async () => {
    const db = await freshDatabase();
    const home = tempHome();
    const a = await createPostgresAdapters({
      url: db.url,
      poolSize: 4,
      connectTimeoutMs: 5000,
      home: home.dir,
      persistence: { logMaxBytes: LOG_MAX },
    });
    return {
      logs: a.logs,
      maxBytes: LOG_MAX,
      close: async () => {
        await a.close();
        await db.drop();
        home.cleanup();
      },
    };
  });
});
