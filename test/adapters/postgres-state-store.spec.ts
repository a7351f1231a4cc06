import { describeStateStoreContract } from '../contract/state-store.contract';
import { describePg, freshPgAdapters } from '../helpers/postgres';

const STATE_MAX = 4096;

describePg('Postgres state store', () => {
  describeStateStoreContract('postgres (throwaway server)', async () => {
    const { adapters, close } = await freshPgAdapters({ stateMaxBytes: STATE_MAX });
    return {
      store: adapters.state,
      maxBytes: STATE_MAX,
      close,
    };
  });
});
