import { join } from 'node:path';
import {
  resolvePersistenceOptions,
  type PersistenceOptionsInput,
} from '../../config/persistence-options';
import type { PersistenceAdapters } from '../../ports/persistence-adapters.port';
import { PostgresCheckpointStore } from './postgres-checkpoint.store';
import {
  openPostgresDataSource,
  rawPool,
  redactUrl,
  type PostgresOptions,
} from './postgres-data-source';
import { PostgresDecisionStore } from './postgres-decision.store';
import { PostgresDumpImporter } from './postgres-dump-importer';
import { PostgresExecutionStore } from './postgres-execution.store';
import { PostgresLockStore } from './postgres-lock.store';
import { PostgresLogStore } from './postgres-log.store';
import { PostgresStateStore } from './postgres-state.store';
import { PostgresRuntimeRecordStore } from './postgres-runtime-record.store';
import { PostgresTaskRepository } from './postgres-task.repository';

export { openPostgresDataSource, rawPool, redactUrl, type PostgresOptions };
export {
  PostgresTaskRepository,
  PostgresLockStore,
  PostgresStateStore,
  PostgresLogStore,
  PostgresDecisionStore,
  PostgresExecutionStore,
  PostgresCheckpointStore,
  PostgresDumpImporter,
};

export interface PostgresAdaptersOptions extends PostgresOptions {
  /** Data home of this host: checkpoint artifacts go to `<home>/checkpoints`. */
  home: string;
  persistence?: PersistenceOptionsInput;
}

/**
 * The scale-out family: every layer several hosts must see (tasks, leases, state, logs, decisions,
 * executions, checkpoint records) in one Postgres database, over one `pg` pool; migrated at open.
 * Checkpoint artifact files stay on the host that made them.
 *
 * @example
 * const adapters = await createPostgresAdapters({
 *   url: 'postgres://app@db:5432/opencode', poolSize: 10, connectTimeoutMs: 5000, home: '/var/lib/oct',
 * });
 * // … OpenCodeToolsModule.forRoot({ adapters: async () => adapters }) …
 * await adapters.close();
 */
export async function createPostgresAdapters(
  opts: PostgresAdaptersOptions,
): Promise<PersistenceAdapters> {
  const ds = await openPostgresDataSource(opts);
  const pool = rawPool(ds);
  const applied = await pool.query<{ name: string }>('SELECT name FROM migrations ORDER BY id');
  const p = resolvePersistenceOptions(opts.persistence);
  const logs = new PostgresLogStore(pool, {
    flushIntervalMs: p.logFlushIntervalMs,
    flushBytes: p.logFlushBytes,
    maxBytes: p.logMaxBytes,
  });
  return {
    description: `postgres:${redactUrl(opts.url)}`,
    migrations: applied.rows.map((r) => r.name),
    tasks: new PostgresTaskRepository(pool),
    locks: new PostgresLockStore(pool),
    state: new PostgresStateStore(pool, p.stateMaxBytes),
    logs,
    decisions: new PostgresDecisionStore(pool),
    executions: new PostgresExecutionStore(pool),
    checkpoints: new PostgresCheckpointStore(pool, join(opts.home, 'checkpoints')),
    importer: new PostgresDumpImporter(pool),
    records: new PostgresRuntimeRecordStore(pool),
    close: async () => {
      await logs.close().catch(() => undefined);
      if (ds.isInitialized) await ds.destroy();
    },
  };
}
