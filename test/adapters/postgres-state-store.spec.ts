import { createPostgresAdapters } from '../../src/adapters/postgres';
import { describeStateStoreContract } from '../contract/state-store.contract';
import { describePg, freshDatabase } from '../helpers/postgres';
import { tempHome } from '../helpers/temp-home';

const STATE_MAX = 4096;

describePg('Postgres state store', () => {
  describeStateStoreContract('postgres (throwaway server)', async () => {
    const db = await freshDatabase();
    const home = tempHome();
    const a = await createPostgresAdapters({
      url: db.url,
      poolSize: 4,
      connectTimeoutMs: 5000,
      home: home.dir,
      persistence: { stateMaxBytes: STATE_MAX },
    });
    return {
      store: a.state,
      maxBytes: STATE_MAX,
      close: async () => {
        await a.close();
        await db.drop();
        home.cleanup();
      },
    };
  });
});
