import type { DumpRecord } from '../domain/dump';

export interface DumpImportOptions {
  /** Import into a database that already holds data (a clash of ids or sequence numbers aborts). */
  force: boolean;
}

/**
 * Writes a dump (see `src/domain/dump.ts`) into a storage family, keeping ids, versions,
 * timestamps, journal sequence numbers and fencing tokens. All or nothing: one transaction, so a
 * failure (or a dump that turns out truncated) leaves the target as it was. The records arrive
 * already validated, in dump order; the importer only writes them.
 * Implementations: Postgres.
 */
export interface DumpImporter {
  /**
   * @throws ConflictError when the target holds data and `force` is not set, or on a clash of ids.
   */
  importDump(records: AsyncIterable<DumpRecord>, opts: DumpImportOptions): Promise<void>;
}
