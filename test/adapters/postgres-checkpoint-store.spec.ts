import { describeCheckpointStoreContract } from '../contract/checkpoint-store.contract';
import { describePg, freshPgAdapters } from '../helpers/postgres';

describePg('Postgres checkpoint store', () => {
  describeCheckpointStoreContract('postgres (throwaway server) + artifact files', async () => {
    const { adapters, close } = await freshPgAdapters();
    return {
      store: adapters.checkpoints,
      close,
    };
  });
});
