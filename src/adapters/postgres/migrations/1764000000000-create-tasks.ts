import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Task registry (Postgres). JSON columns are `json` (not jsonb) so stored text round-trips exactly. */
export class CreateTasks1764000000000 implements MigrationInterface {
  name = 'CreateTasks1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE tasks (
        id          text PRIMARY KEY,
        name        text NOT NULL,
        description text,
        owner       text NOT NULL,
        mode        text NOT NULL CHECK (mode IN ('exclusive', 'collaborative')),
        status      text NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
        metadata    json NOT NULL DEFAULT '{}',
        sandbox     json,
        version     integer NOT NULL DEFAULT 1,
        created_at  timestamptz NOT NULL,
        updated_at  timestamptz NOT NULL,
        started_at  timestamptz,
        ended_at    timestamptz,
        result      json,
        error       text
      )`);
    await q.query(`CREATE INDEX idx_tasks_created ON tasks (created_at, id)`);
    await q.query(`CREATE INDEX idx_tasks_status_created ON tasks (status, created_at, id)`);
    await q.query(`CREATE INDEX idx_tasks_owner_created ON tasks (owner, created_at, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE tasks`);
  }
}
