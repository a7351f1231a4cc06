import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Task registry. Indexes serve the real queries: status + newest-first pages, owner pages, time ranges. */
export class CreateTasks1764000000000 implements MigrationInterface {
  name = 'CreateTasks1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE tasks (
        id          TEXT PRIMARY KEY NOT NULL,
        name        TEXT NOT NULL,
        description TEXT,
        owner       TEXT NOT NULL,
        mode        TEXT NOT NULL CHECK (mode IN ('exclusive', 'collaborative')),
        status      TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
        metadata    TEXT NOT NULL DEFAULT '{}',
        sandbox     TEXT,
        version     INTEGER NOT NULL DEFAULT 1,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        started_at  TEXT,
        ended_at    TEXT,
        result      TEXT,
        error       TEXT
      )`);
    await q.query(`CREATE INDEX idx_tasks_created ON tasks (created_at, id)`);
    await q.query(`CREATE INDEX idx_tasks_status_created ON tasks (status, created_at, id)`);
    await q.query(`CREATE INDEX idx_tasks_owner_created ON tasks (owner, created_at, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE tasks`);
  }
}
