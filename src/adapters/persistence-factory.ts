import type { OpenCodeToolsOptions } from '../config/options';
import { DomainError } from '../domain/errors';
import type { PersistenceAdaptersFactory } from '../ports/persistence-adapters.port';

/**
 * Picks the storage family from configuration. Adapters are loaded with `import()` so a process
 * pays only for the driver it uses (TypeORM alone costs ~0.2 s to load).
 */
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
      throw new DomainError(
        'STORAGE_UNAVAILABLE',
        'OPENCODE_DATABASE_URL names a Postgres database, but the Postgres adapters are not available in this version; use a SQLite path',
      );
  }
};
