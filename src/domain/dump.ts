import { z } from 'zod';
import { ValidationError } from './errors';
import type { ExecutionRecord } from './execution';
import type { Checkpoint, Decision, LogEntry, StateDoc } from './history';
import type { LockGrant } from './lock';
import { LOCK_MODES } from './lock';
import { TASK_MODES, TASK_STATUSES, type Task } from './task';
import { LOG_LEVELS } from './history';

/**
 * The dump format of `opencode-tools export` / `import`: NDJSON, one record per line, independent
 * of the storage family. Log positions are entry indexes (0-based, dense), whatever the source
 * stored (byte offsets in JSONL files, indexes in Postgres): checkpoint `logPosition`s and rewound
 * ranges are converted on export. The `end` record carries the counts, so a truncated dump is
 * detected instead of half-imported.
 */
export const DUMP_FORMAT = 'opencode-tools-dump';
export const DUMP_VERSION = 1;
/** Log entries per `logs` record. */
export const DUMP_LOG_CHUNK = 1000;

export interface DumpCounts {
  tasks: number;
  states: number;
  logEntries: number;
  logRewinds: number;
  decisions: number;
  executions: number;
  checkpoints: number;
  locks: number;
}

export const emptyDumpCounts = (): DumpCounts => ({
  tasks: 0,
  states: 0,
  logEntries: 0,
  logRewinds: 0,
  decisions: 0,
  executions: 0,
  checkpoints: 0,
  locks: 0,
});

export type DumpRecord =
  | { type: 'header'; format: string; version: number; createdAt: string; source: string }
  | { type: 'task'; task: Task }
  | { type: 'state'; state: StateDoc }
  | { type: 'logs'; taskId: string; from: number; entries: LogEntry[] }
  | { type: 'logRewind'; taskId: string; from: number; to: number; checkpointId: string }
  | { type: 'decision'; decision: Decision }
  | { type: 'execution'; execution: ExecutionRecord }
  | { type: 'checkpoint'; checkpoint: Checkpoint }
  | { type: 'lock'; grant: LockGrant }
  | { type: 'fencing'; maxToken: number }
  | { type: 'end'; counts: DumpCounts };

// Shapes are checked as far as the target needs them to be right: ids, numbers that become keys
// or sequence values, timestamps, enums. Free-form JSON (metadata, results, state) passes as is.
const str = z.string({ error: 'must be a string' });
const id = str.min(1, 'must not be empty');
const iso = z.iso.datetime({ offset: true, error: 'must be an ISO-8601 date-time' });
const nat = z.number({ error: 'must be a number' }).int('must be a whole number').min(0);
const pos = nat.max(Number.MAX_SAFE_INTEGER);
const seq = nat.min(1, 'must be at least 1');
const obj = z.record(z.string(), z.unknown(), { error: 'must be a JSON object' });

const taskSchema = z.looseObject({
  id,
  name: str,
  description: str.optional(),
  owner: str,
  mode: z.enum(TASK_MODES, { error: `must be one of: ${TASK_MODES.join(', ')}` }),
  status: z.enum(TASK_STATUSES, { error: `must be one of: ${TASK_STATUSES.join(', ')}` }),
  metadata: obj,
  sandbox: obj.optional(),
  version: seq,
  createdAt: iso,
  updatedAt: iso,
  startedAt: iso.optional(),
  endedAt: iso.optional(),
  error: str.optional(),
});

const logEntrySchema = z.object({
  ts: str,
  level: z.enum(LOG_LEVELS, { error: `must be one of: ${LOG_LEVELS.join(', ')}` }),
  message: str,
  data: z.unknown().optional(),
});

const recordSchema = z.discriminatedUnion(
  'type',
  [
    z.object({
      type: z.literal('header'),
      format: str,
      version: nat,
      createdAt: str,
      source: str,
    }),
    z.object({ type: z.literal('task'), task: taskSchema }),
    z.object({
      type: z.literal('state'),
      state: z.object({ taskId: id, version: seq, data: obj, updatedAt: iso }),
    }),
    z.object({
      type: z.literal('logs'),
      taskId: id,
      from: pos,
      entries: z.array(logEntrySchema).min(1).max(DUMP_LOG_CHUNK),
    }),
    z
      .object({ type: z.literal('logRewind'), taskId: id, from: pos, to: pos, checkpointId: id })
      .refine((r) => r.to > r.from, { message: 'must end after it starts', path: ['to'] }),
    z.object({
      type: z.literal('decision'),
      decision: z.looseObject({
        id,
        taskId: id,
        ts: iso,
        agentId: str,
        decision: str,
        reasoning: str,
        metadata: obj.optional(),
        seq,
        rewoundBy: str.optional(),
      }),
    }),
    z.object({
      type: z.literal('execution'),
      execution: z.looseObject({
        id,
        taskId: id,
        agentId: str.optional(),
        command: z.union([str, z.array(str)], { error: 'must be a string or an array of strings' }),
        startedAt: iso,
        durationMs: z.number({ error: 'must be a number' }).min(0),
        exitCode: z.number().int().nullable(),
        timedOut: z.boolean(),
        truncated: z.boolean(),
        stdoutBytes: nat,
        stderrBytes: nat,
        stdoutHead: str,
        stdoutTail: str,
        stderrHead: str,
        stderrTail: str,
        outputRef: str.optional(),
        seq,
        rewoundBy: str.optional(),
      }),
    }),
    z.object({
      type: z.literal('checkpoint'),
      checkpoint: z.looseObject({
        id,
        taskId: id,
        description: str,
        createdAt: iso,
        logPosition: pos,
        decisionMark: nat,
        executionMark: nat,
        task: obj,
      }),
    }),
    z.object({
      type: z.literal('lock'),
      grant: z.object({
        resource: id,
        holder: id,
        mode: z.enum(LOCK_MODES, { error: `must be one of: ${LOCK_MODES.join(', ')}` }),
        token: seq,
        count: seq,
        ttlMs: seq,
        acquiredAt: iso,
        renewedAt: iso,
        expiresAt: iso,
      }),
    }),
    z.object({ type: z.literal('fencing'), maxToken: nat }),
    z.object({
      type: z.literal('end'),
      counts: z.object({
        tasks: nat,
        states: nat,
        logEntries: nat,
        logRewinds: nat,
        decisions: nat,
        executions: nat,
        checkpoints: nat,
        locks: nat,
      }),
    }),
  ],
  {
    error: (i) =>
      i.code === 'invalid_union'
        ? 'must be one of: header, task, state, logs, logRewind, decision, execution, checkpoint, lock, fencing, end'
        : undefined,
  },
);

/**
 * Parses one line of a dump. A bad line is a ValidationError naming the line and the field, e.g.
 * `dump line 12, task.version: must be at least 1`.
 */
export function parseDumpLine(text: string, line: number): DumpRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ValidationError(
      `dump line ${line}`,
      `is not JSON (${(err as Error).message}); is this a file written by opencode-tools export?`,
      { line },
    );
  }
  const r = recordSchema.safeParse(raw);
  // The schemas only check (no defaults, no transforms): keep the record as written, key order
  // included, so a dump of an imported store reproduces the original.
  if (r.success) return raw as DumpRecord;
  const issue = r.error.issues[0];
  const path = issue.path.length ? issue.path.join('.') : 'type';
  throw new ValidationError(`dump line ${line}, ${path}`, issue.message, { line, path });
}

/** Checks the header of a dump: the first line, this format, a version this code reads. */
export function assertDumpHeader(rec: DumpRecord | undefined): void {
  if (rec?.type !== 'header' || rec.format !== DUMP_FORMAT) {
    throw new ValidationError(
      'dump line 1',
      `is not an ${DUMP_FORMAT} header; the file was not written by opencode-tools export (or is empty)`,
    );
  }
  if (rec.version > DUMP_VERSION) {
    throw new ValidationError(
      'dump line 1, version',
      `the dump is format version ${rec.version}, newer than this opencode-tools reads (${DUMP_VERSION}); upgrade opencode-tools`,
    );
  }
}
