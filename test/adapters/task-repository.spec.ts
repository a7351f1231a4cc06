import { join } from 'node:path';
import { createMemoryAdapters } from '../../src/adapters/memory';
import { createSqliteAdapters } from '../../src/adapters/sqlite';
import { describeTaskRepositoryContract } from '../contract/task-repository.contract';
import { tempHome } from '../helpers/temp-home';

describeTaskRepositoryContract('memory', async () => {
  const a = await createMemoryAdapters();
  return { repo: a.tasks, close: () => a.close() };
});

describeTaskRepositoryContract('sqlite (real file)', async () => {
  const home = tempHome();
  const a = await createSqliteAdapters({ path: join(home.dir, 'db.sqlite'), busyTimeoutMs: 5000 });
  return {
    repo: a.tasks,
    close: async () => {
      await a.close();
      home.cleanup();
    },
  };
});
