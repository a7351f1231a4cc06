import { join } from 'node:path';
import { createMemoryAdapters } from '../../src/adapters/memory';
import { createSqliteAdapters } from '../../src/adapters/sqlite';
import type { PersistenceAdapters } from '../../src/ports/persistence-adapters.port';
import { existsSync } from 'node:fs';
import { checkpoint, describeCheckpointStoreContract } from '../contract/checkpoint-store.contract';
import { describeJournalContracts } from '../contract/journal.contract';
import { describeLogStoreContract } from '../contract/log-store.contract';
import { describeStateStoreContract } from '../contract/state-store.contract';
import { describeRuntimeRecordStoreContract } from '../contract/runtime-record-store.contract';
import { tempHome } from '../helpers/temp-home';

const STATE_MAX = 4096;
const LOG_MAX = 64 * 1024;

const families: [string, () => Promise<{ a: PersistenceAdapters; close: () => Promise<void> }>][] =
  [
    [
      'memory',
      async () => {
        const a = await createMemoryAdapters({ stateMaxBytes: STATE_MAX, logMaxBytes: LOG_MAX });
        return { a, close: () => a.close() };
      },
    ],
    [
      'sqlite + jsonl (real files)',
      async () => {
        const home = tempHome();
        const a = await createSqliteAdapters({
          path: join(home.dir, 'db.sqlite'),
          busyTimeoutMs: 5000,
          home: home.dir,
          persistence: { stateMaxBytes: STATE_MAX, logMaxBytes: LOG_MAX, logFsync: 'off' },
        });
        return {
          a,
          close: async () => {
            await a.close();
            home.cleanup();
          },
        };
      },
    ],
  ];

for (const [name, open] of families) {
  describeStateStoreContract(name, async () => {
    const { a, close } = await open();
    return { store: a.state, maxBytes: STATE_MAX, close };
  });
  describeLogStoreContract(name, async () => {
    const { a, close } = await open();
    return { logs: a.logs, maxBytes: LOG_MAX, close };
  });
  describeJournalContracts(name, async () => {
    const { a, close } = await open();
    return { decisions: a.decisions, executions: a.executions, close };
  });
  describeRuntimeRecordStoreContract(name, async () => {
    const { a, close } = await open();
    return { store: a.records, close };
  });
  describeCheckpointStoreContract(name, async () => {
    const { a, close } = await open();
    return { store: a.checkpoints, close };
  });
}

describe('memory checkpoint store', () => {
  it('removes the artifact directories of checkpoints never deleted when its adapters close', async () => {
    const a = await createMemoryAdapters();
    const kept = await a.checkpoints.begin({ id: 'chk_kept', taskId: 'tsk_a' });
    const pending = await a.checkpoints.begin({ id: 'chk_pending', taskId: 'tsk_a' });
    await a.checkpoints.commit(checkpoint({ id: kept.id, taskId: 'tsk_a' }));
    expect(existsSync(kept.artifactsDir!)).toBe(true);
    expect(existsSync(pending.artifactsDir!)).toBe(true);
    await a.close();
    expect(existsSync(kept.artifactsDir!)).toBe(false);
    expect(existsSync(pending.artifactsDir!)).toBe(false);
  });
});
