import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Runtime records: running (re-attachable) executions and the like, keyed by kind and id. */
export class CreateRuntimeRecords1764900000000 implements MigrationInterface {
  name = 'CreateRuntimeRecords1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE runtime_records (
        kind       text NOT NULL,
        id         text NOT NULL,
        task_id    text,
        key        text,
        status     text NOT NULL,
        data       json NOT NULL,
        version    integer NOT NULL,
        updated_at timestamptz NOT NULL,
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
