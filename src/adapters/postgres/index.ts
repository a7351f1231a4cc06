export {
  openPostgresDataSource,
  rawPool,
  redactUrl,
  type PostgresOptions,
} from './postgres-data-source';
export { PostgresTaskRepository } from './postgres-task.repository';
export { PostgresLockStore } from './postgres-lock.store';
