import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Runtime records: running (re-attachable) executions and the like, keyed by kind and id. */
export class CreateRuntimeRecords1764900000000 implements MigrationInterface {
  name = 'CreateRuntimeRecords1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE runtime_records (
        kind       TEXT NOT NULL,
        id         TEXT NOT NULL,
        task_id    TEXT,
        key        TEXT,
        status     TEXT NOT NULL,
        data       TEXT NOT NULL,
        version    INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (kind, id)
      )`);
    await q.query(
      `CREATE UNIQUE INDEX idx_runtime_records_key ON runtime_records (kind, key) WHERE key IS NOT NULL`,
    );
    await q.query(`CREATE INDEX idx_runtime_records_status ON runtime_records (kind, status)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE runtime_records`);
  }
}
