import { createPostgresAdapters } from '../../src/adapters/postgres';
import { describeCheckpointStoreContract } from '../contract/checkpoint-store.contract';
import { describePg, freshDatabase } from '../helpers/postgres';
import { tempHome } from '../helpers/temp-home';

describePg('Postgres checkpoint store', () => {
  describeCheckpointStoreContract('postgres (throwaway server) + artifact files', async () => {
    const db = await freshDatabase();
    const home = tempHome();
    const a = await createPostgresAdapters({
      url: db.url,
      poolSize: 4,
      connectTimeoutMs: 5000,
      home: home.dir,
    });
    return {
      store: a.checkpoints,
      close: async () => {
        await a.close();
        await db.drop();
        home.cleanup();
      },
    };
  });
});
