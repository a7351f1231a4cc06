import type { OpenCodeToolsOptions } from '../config/options';
import type { PersistenceAdaptersFactory } from '../ports/persistence-adapters.port';

/**
 * Picks the storage family from configuration. Adapters are loaded with `import()` so a process
 * pays only for the driver it uses (TypeORM alone costs ~0.2 s to load).
 */
export const POSTGRES_DEFAULTS = { poolSize: 10, connectTimeoutMs: 5000 } as const;

export const openConfiguredPersistence: PersistenceAdaptersFactory = async (
  options: OpenCodeToolsOptions,
) => {
  const db = options.database;
  switch (db.driver) {
    case 'memory':
      return (await import('./memory')).createMemoryAdapters(options.persistence);
    case 'sqlite':
      return (await import('./sqlite')).createSqliteAdapters({
        path: db.path,
        busyTimeoutMs: options.sqliteBusyTimeoutMs,
        home: options.home,
        persistence: options.persistence,
      });
    case 'postgres':
      return (await import('./postgres')).createPostgresAdapters({
        url: db.url,
        poolSize: db.poolSize ?? POSTGRES_DEFAULTS.poolSize,
        connectTimeoutMs: db.connectTimeoutMs ?? POSTGRES_DEFAULTS.connectTimeoutMs,
        home: options.home,
        persistence: options.persistence,
      });
  }
};
