import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Task memory (Postgres): state documents, decisions, the executions journal, checkpoint records
 * and, unlike SQLite (JSONL files), the logs, so that every host can read every task's history.
 * - JSON columns are `json`, not `jsonb`: stored text round-trips exactly (and `\u0000` survives).
 * - Journal `seq` comes from an identity sequence (never reused); writers of one task take a
 *   transaction advisory lock first, so a task's seq order is its commit order.
 * - A log entry's `pos` is its index in the task's log (dense from 0); `task_log_heads` holds the
 *   next index and the byte total (for the cap); `ts` is the entry's own text, compared bytewise
 *   (COLLATE "C") like the JSONL store compares strings. Rewound ranges are rows of their own, so a
 *   restore writes one row, not one per entry.
 * - Output excerpts are `bytea`: program output may contain NUL, which `text` cannot hold.
 */
export class CreateTaskMemory1764300000000 implements MigrationInterface {
  name = 'CreateTaskMemory1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE task_state (
        task_id    text PRIMARY KEY,
        version    integer NOT NULL CHECK (version >= 1),
        data       json NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
    await q.query(`
      CREATE TABLE decisions (
        seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id         text NOT NULL UNIQUE,
        task_id    text NOT NULL,
        ts         timestamptz NOT NULL,
        agent_id   text NOT NULL,
        decision   text NOT NULL,
        reasoning  text NOT NULL,
        metadata   json,
        rewound_by text
      )`);
    await q.query(`CREATE INDEX idx_decisions_task ON decisions (task_id, seq)`);
    await q.query(`CREATE INDEX idx_decisions_task_agent ON decisions (task_id, agent_id, seq)`);
    await q.query(`
      CREATE TABLE executions (
        seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id           text NOT NULL UNIQUE,
        task_id      text NOT NULL,
        agent_id     text,
        command      json NOT NULL,
        started_at   timestamptz NOT NULL,
        duration_ms  double precision NOT NULL,
        exit_code    integer,
        timed_out    boolean NOT NULL,
        truncated    boolean NOT NULL,
        stdout_bytes bigint NOT NULL,
        stderr_bytes bigint NOT NULL,
        stdout_head  bytea NOT NULL,
        stdout_tail  bytea NOT NULL,
        stderr_head  bytea NOT NULL,
        stderr_tail  bytea NOT NULL,
        output_ref   text,
        rewound_by   text
      )`);
    await q.query(`CREATE INDEX idx_executions_task ON executions (task_id, seq)`);
    await q.query(`
      CREATE TABLE checkpoints (
        id         text PRIMARY KEY,
        task_id    text NOT NULL,
        status     text NOT NULL CHECK (status IN ('creating', 'ready')),
        owner      text NOT NULL,
        created_at timestamptz NOT NULL,
        body       json
      )`);
    await q.query(`CREATE INDEX idx_checkpoints_task ON checkpoints (task_id, status, id)`);
    await q.query(`
      CREATE TABLE task_log_heads (
        task_id  text PRIMARY KEY,
        next_pos bigint NOT NULL CHECK (next_pos >= 0),
        bytes    bigint NOT NULL CHECK (bytes >= 0)
      )`);
    await q.query(`
      CREATE TABLE task_logs (
        task_id      text NOT NULL,
        pos          bigint NOT NULL,
        ts           text COLLATE "C" NOT NULL,
        level        text NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error')),
        message      text NOT NULL,
        message_json json,
        data         json,
        bytes        integer NOT NULL,
        PRIMARY KEY (task_id, pos)
      )`);
    await q.query(`
      CREATE TABLE task_log_rewinds (
        id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        task_id       text NOT NULL,
        from_pos      bigint NOT NULL,
        to_pos        bigint NOT NULL,
        checkpoint_id text NOT NULL
      )`);
    await q.query(`CREATE INDEX idx_task_log_rewinds_task ON task_log_rewinds (task_id, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of [
      'task_log_rewinds',
      'task_logs',
      'task_log_heads',
      'checkpoints',
      'executions',
      'decisions',
      'task_state',
    ]) {
      await q.query(`DROP TABLE ${t}`);
    }
  }
}
