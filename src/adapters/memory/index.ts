import type { PersistenceAdapters } from '../../ports/persistence-adapters.port';
import { MemoryLockStore } from './memory-lock.store';
import { MemoryTaskRepository } from './memory-task.repository';
import { MemoryCheckpointStore } from './memory-checkpoint.store';
import { MemoryDecisionStore } from './memory-decision.store';
import { MemoryExecutionStore } from './memory-execution.store';
import { MemoryLogStore } from './memory-log.store';
import { MemoryStateStore } from './memory-state.store';
import { MemoryRuntimeRecordStore } from './memory-runtime-record.store';

export { MemoryTaskRepository, MemoryLockStore };

/** In-process storage: everything lives in this process and is gone when it exits. */
export async function createMemoryAdapters(
  opts: { stateMaxBytes?: number; logMaxBytes?: number } = {},
): Promise<PersistenceAdapters> {
  const checkpoints = new MemoryCheckpointStore();
  return {
    description: 'memory',
    tasks: new MemoryTaskRepository(),
    locks: new MemoryLockStore(),
    state: new MemoryStateStore(opts.stateMaxBytes),
    logs: new MemoryLogStore(opts.logMaxBytes),
    decisions: new MemoryDecisionStore(),
    executions: new MemoryExecutionStore(),
    checkpoints,
    records: new MemoryRuntimeRecordStore(),
    close: async () => checkpoints.close(),
  };
}
