import {
  openPostgresDataSource,
  PostgresTaskRepository,
  rawPool,
} from '../../src/adapters/postgres';
import { describeTaskRepositoryContract } from '../contract/task-repository.contract';
import { describePg, freshDatabase } from '../helpers/postgres';

describePg('Postgres task registry', () => {
  describeTaskRepositoryContract('postgres (throwaway server)', async () => {
    const db = await freshDatabase();
    const ds = await openPostgresDataSource({ url: db.url, poolSize: 4, connectTimeoutMs: 5000 });
    return {
      repo: new PostgresTaskRepository(rawPool(ds)),
      close: async () => {
        await ds.destroy();
        await db.drop();
      },
    };
  });
});
