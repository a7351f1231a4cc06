import { CHECKPOINT_STORE } from '../../ports/checkpoint-store.port';
import { DECISION_STORE } from '../../ports/decision-store.port';
import { EXECUTION_STORE } from '../../ports/execution-store.port';
import { LOG_STORE } from '../../ports/log-store.port';
import type { PersistenceAdapters } from '../../ports/persistence-adapters.port';
import { STATE_STORE } from '../../ports/state-store.port';

/** The task-memory ports and the bundle field that implements each (exposed by PersistenceModule). */
export const MEMORY_STORE_TOKENS: [symbol, keyof PersistenceAdapters][] = [
  [STATE_STORE, 'state'],
  [LOG_STORE, 'logs'],
  [DECISION_STORE, 'decisions'],
  [EXECUTION_STORE, 'executions'],
  [CHECKPOINT_STORE, 'checkpoints'],
];
