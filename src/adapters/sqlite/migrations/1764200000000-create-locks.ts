import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Leases. `lock_fences` keeps the last fencing token per resource for ever, so tokens never go back
 * even after every grant is gone. Times are epoch milliseconds (integers compare fast).
 */
export class CreateLocks1764200000000 implements MigrationInterface {
  name = 'CreateLocks1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE lock_fences (
        resource TEXT PRIMARY KEY NOT NULL,
        token    INTEGER NOT NULL
      ) WITHOUT ROWID`);
    await q.query(`
      CREATE TABLE lock_grants (
        resource    TEXT NOT NULL,
        holder      TEXT NOT NULL,
        mode        TEXT NOT NULL CHECK (mode IN ('exclusive', 'collaborative')),
        token       INTEGER NOT NULL,
        count       INTEGER NOT NULL CHECK (count >= 1),
        ttl_ms      INTEGER NOT NULL CHECK (ttl_ms > 0),
        acquired_at INTEGER NOT NULL,
        renewed_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        PRIMARY KEY (resource, holder)
      ) WITHOUT ROWID`);
    await q.query(`CREATE INDEX idx_lock_grants_expires ON lock_grants (expires_at)`);
    await q.query(`CREATE INDEX idx_lock_grants_holder ON lock_grants (holder)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE lock_grants`);
    await q.query(`DROP TABLE lock_fences`);
  }
}
