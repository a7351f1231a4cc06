import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Task memory: state documents, decisions, the executions journal and checkpoint records (logs are
 * JSONL files). `seq` is AUTOINCREMENT so a checkpoint's high-water mark is never reused.
 */
export class CreateTaskMemory1764300000000 implements MigrationInterface {
  name = 'CreateTaskMemory1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE task_state (
        task_id    TEXT PRIMARY KEY NOT NULL,
        version    INTEGER NOT NULL,
        data       TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`);
    await q.query(`
      CREATE TABLE decisions (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        id         TEXT NOT NULL UNIQUE,
        task_id    TEXT NOT NULL,
        ts         TEXT NOT NULL,
        agent_id   TEXT NOT NULL,
        decision   TEXT NOT NULL,
        reasoning  TEXT NOT NULL,
        metadata   TEXT,
        rewound_by TEXT
      )`);
    await q.query(`CREATE INDEX idx_decisions_task ON decisions (task_id, seq)`);
    await q.query(`CREATE INDEX idx_decisions_task_agent ON decisions (task_id, agent_id, seq)`);
    await q.query(`
      CREATE TABLE executions (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        id           TEXT NOT NULL UNIQUE,
        task_id      TEXT NOT NULL,
        agent_id     TEXT,
        command      TEXT NOT NULL,
        started_at   TEXT NOT NULL,
        duration_ms  REAL NOT NULL,
        exit_code    INTEGER,
        timed_out    INTEGER NOT NULL,
        truncated    INTEGER NOT NULL,
        stdout_bytes INTEGER NOT NULL,
        stderr_bytes INTEGER NOT NULL,
        stdout_head  TEXT NOT NULL,
        stdout_tail  TEXT NOT NULL,
        stderr_head  TEXT NOT NULL,
        stderr_tail  TEXT NOT NULL,
        output_ref   TEXT,
        rewound_by   TEXT
      )`);
    await q.query(`CREATE INDEX idx_executions_task ON executions (task_id, seq)`);
    await q.query(`
      CREATE TABLE checkpoints (
        id         TEXT PRIMARY KEY NOT NULL,
        task_id    TEXT NOT NULL,
        status     TEXT NOT NULL CHECK (status IN ('creating', 'ready')),
        owner      TEXT NOT NULL,
        created_at TEXT NOT NULL,
        body       TEXT
      )`);
    await q.query(`CREATE INDEX idx_checkpoints_task ON checkpoints (task_id, status, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['checkpoints', 'executions', 'decisions', 'task_state']) {
      await q.query(`DROP TABLE ${t}`);
    }
  }
}
