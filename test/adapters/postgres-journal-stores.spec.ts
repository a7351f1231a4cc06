import { createPostgresAdapters } from '../../src/adapters/postgres';
import { describeJournalContracts } from '../contract/journal.contract';
import { describeRuntimeRecordStoreContract } from '../contract/runtime-record-store.contract';
import { describePg, freshDatabase } from '../helpers/postgres';
import { tempHome } from '../helpers/temp-home';

describePg('Postgres decision and execution stores', () => {
  describeJournalContracts('postgres (throwaway server)', async () => {
    const db = await freshDatabase();
    const home = tempHome();
    const a = await createPostgresAdapters({
      url: db.url,
      poolSize: 4,
      connectTimeoutMs: 5000,
      home: home.dir,
    });
    return {
      decisions: a.decisions,
      executions: a.executions,
      close: async () => {
        await a.close();
        await db.drop();
        home.cleanup();
      },
    };
  });
  describeRuntimeRecordStoreContract('postgres (throwaway server)', async () => {
    const db = await freshDatabase();
    const home = tempHome();
    const a = await createPostgresAdapters({
      url: db.url,
      poolSize: 4,
      connectTimeoutMs: 5000,
      home: home.dir,
    });
    return {
      store: a.records,
      close: async () => {
        await a.close();
        await db.drop();
        home.cleanup();
      },
    };
  });
});
