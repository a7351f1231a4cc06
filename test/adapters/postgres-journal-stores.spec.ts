import { describeJournalContracts } from '../contract/journal.contract';
import { describeRuntimeRecordStoreContract } from '../contract/runtime-record-store.contract';
import { describePg, freshPgAdapters } from '../helpers/postgres';

describePg('Postgres decision and execution stores', () => {
  describeJournalContracts('postgres (throwaway server)', async () => {
    const { adapters, close } = await freshPgAdapters();
    return {
      decisions: adapters.decisions,
      executions: adapters.executions,
      close,
    };
  });
  describeRuntimeRecordStoreContract('postgres (throwaway server)', async () => {
    const { adapters, close } = await freshPgAdapters();
    return {
      store: adapters.records,
      close,
    };
  });
});
