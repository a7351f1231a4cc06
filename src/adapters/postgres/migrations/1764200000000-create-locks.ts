import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Leases (Postgres). Fencing tokens come from one sequence: monotonic overall, hence per resource,
 * and never reused even after every grant is gone. Times are epoch milliseconds (bigint).
 */
export class CreateLocks1764200000000 implements MigrationInterface {
  name = 'CreateLocks1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SEQUENCE lock_fencing_tokens AS bigint`);
    await q.query(`
      CREATE TABLE lock_grants (
        resource    text NOT NULL,
        holder      text NOT NULL,
        mode        text NOT NULL CHECK (mode IN ('exclusive', 'collaborative')),
        token       bigint NOT NULL,
        count       integer NOT NULL CHECK (count >= 1),
        ttl_ms      integer NOT NULL CHECK (ttl_ms > 0),
        acquired_at bigint NOT NULL,
        renewed_at  bigint NOT NULL,
        expires_at  bigint NOT NULL,
        PRIMARY KEY (resource, holder)
      )`);
    await q.query(`CREATE INDEX idx_lock_grants_expires ON lock_grants (expires_at)`);
    await q.query(`CREATE INDEX idx_lock_grants_holder ON lock_grants (holder)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE lock_grants`);
    await q.query(`DROP SEQUENCE lock_fencing_tokens`);
  }
}
