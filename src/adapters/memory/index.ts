import type { PersistenceAdapters } from '../../ports/persistence-adapters.port';
import { MemoryLockStore } from './memory-lock.store';
import { MemoryTaskRepository } from './memory-task.repository';

export { MemoryTaskRepository, MemoryLockStore };

/** In-process storage: everything lives in this process and is gone when it exits. */
export async function createMemoryAdapters(): Promise<PersistenceAdapters> {
  return {
    description: 'memory',
    tasks: new MemoryTaskRepository(),
    locks: new MemoryLockStore(),
    close: async () => undefined,
  };
}
