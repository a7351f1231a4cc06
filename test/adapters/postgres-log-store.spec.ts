import { describeLogStoreContract } from '../contract/log-store.contract';
import { describePg, freshPgAdapters } from '../helpers/postgres';

const LOG_MAX = 64 * 1024;

describePg('Postgres log store', () => {
  describeLogStoreContract('postgres (throwaway server)', async () => {
    const { adapters, close } = await freshPgAdapters({ logMaxBytes: LOG_MAX });
    return {
      logs: adapters.logs,
      maxBytes: LOG_MAX,
      close,
    };
  });
});
