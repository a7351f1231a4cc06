import { z } from 'zod';
import { ConflictError, ValidationError } from './errors';

/** Limits of the task memory layers; the defaults of the configurable ones live in config/options. */
export const HISTORY_LIMITS = {
  logMessageMaxBytes: 64 * 1024,
  logDataMaxBytes: 256 * 1024,
  decisionMaxChars: 10_000,
  reasoningMaxChars: 50_000,
  decisionMetadataMaxBytes: 64 * 1024,
  checkpointDescriptionMax: 1000,
  listMax: 1000,
  listDefault: 50,
} as const;

const isoDateTime = z.iso.datetime({ offset: true, error: 'must be an ISO-8601 date-time' });
const taskId = z.string({ error: 'is required' }).trim().min(1, 'is required');
const jsonBytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v) ?? '', 'utf8');

// ---------------------------------------------------------------------------------------------- state

/** The latest state document of a task: any JSON object, versioned for optimistic concurrency. */
export interface StateDoc {
  taskId: string;
  /** 1 on the first write, +1 on every write. */
  version: number;
  data: Record<string, unknown>;
  updatedAt: string;
}

export function stateConflict(taskId: string, expected: number, current: number): ConflictError {
  return new ConflictError(
    `state of task ${taskId} was changed by someone else (you had version ${expected}, it is now ${current}); re-read it and retry`,
    { taskId, expectedVersion: expected, currentVersion: current },
  );
}

/** Serialises a state document, refusing one over the limit with an error that says by how much. */
export function serializeState(taskId: string, data: unknown, maxBytes: number): string {
  const text = JSON.stringify(data);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) {
    throw new ValidationError(
      'state',
      `state of task ${taskId} is ${bytes} bytes of JSON; the limit is ${maxBytes} (OPENCODE_STATE_MAX_BYTES). Keep large data in the sandbox or the logs`,
      { taskId, bytes, maxBytes },
    );
  }
  return text;
}

// ----------------------------------------------------------------------------------------------- logs

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One log line as stored (one JSON object per line in the JSONL file). */
export interface LogEntry {
  ts: string;
  level: LogLevel;
  message: string;
  data?: unknown;
}

/** A log entry as read back, with where it is and whether a restore rewound it. */
export interface LogRecord extends LogEntry {
  /** Opaque position of the entry (a byte offset for JSONL, an index for memory). */
  pos: number;
  /** 1-based line number when the read went forward from the start; absent on tail reads. */
  line?: number;
  /** The checkpoint id of the restore that rewound the task past this entry. */
  rewoundBy?: string;
}

export const logEntrySchema = z
  .object({
    ts: isoDateTime,
    level: z.enum(LOG_LEVELS, { error: `must be one of: ${LOG_LEVELS.join(', ')}` }),
    message: z
      .string({ error: 'is required' })
      .refine((s) => Buffer.byteLength(s) <= HISTORY_LIMITS.logMessageMaxBytes, {
        message: `must be at most ${HISTORY_LIMITS.logMessageMaxBytes} bytes`,
      }),
    data: z
      .unknown()
      .refine((d) => d === undefined || jsonBytes(d) <= HISTORY_LIMITS.logDataMaxBytes, {
        message: `must serialise to at most ${HISTORY_LIMITS.logDataMaxBytes} bytes of JSON`,
      })
      .optional(),
  })
  .strict();

export const logQuerySchema = z
  .object({
    /** Minimum level: `warn` returns warn and error. */
    level: z.enum(LOG_LEVELS, { error: `must be one of: ${LOG_LEVELS.join(', ')}` }).optional(),
    since: isoDateTime.optional(),
    until: isoDateTime.optional(),
    /** Case-insensitive substring of the message or the data's JSON. */
    text: z.string().min(1).max(500).optional(),
    /** Skip this many matching entries (forward reads). */
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(100_000).default(1000),
    /** Return the last N matching entries instead (reads the file backwards). */
    tail: z.number().int().min(1).max(100_000).optional(),
    includeRewound: z.boolean().default(true),
  })
  .strict();

export type LogQueryInput = z.input<typeof logQuerySchema>;
export type LogQuery = z.output<typeof logQuerySchema>;

export const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** The one definition of "matches" every LogStore uses. */
export function logEntryMatches(e: LogEntry, q: LogQuery, lowerText?: string): boolean {
  if (q.level && LEVEL_RANK[e.level] < LEVEL_RANK[q.level]) return false;
  if (q.since && e.ts < new Date(q.since).toISOString()) return false;
  if (q.until && e.ts > new Date(q.until).toISOString()) return false;
  if (lowerText) {
    const hay = e.message.toLowerCase();
    if (!hay.includes(lowerText)) {
      const data = e.data === undefined ? '' : JSON.stringify(e.data).toLowerCase();
      if (!data.includes(lowerText)) return false;
    }
  }
  return true;
}

// ------------------------------------------------------------------------------------------ decisions

export interface Decision {
  /** `dec_…` */
  id: string;
  taskId: string;
  ts: string;
  agentId: string;
  decision: string;
  reasoning: string;
  metadata?: Record<string, unknown>;
  /** Assigned by the store, increasing; a checkpoint keeps the highest one as its mark. */
  seq?: number;
  rewoundBy?: string;
}

export const decisionInputSchema = z
  .object({
    taskId,
    agentId: z.string({ error: 'is required' }).trim().min(1, 'is required').max(200),
    decision: z
      .string({ error: 'is required; say what was decided' })
      .trim()
      .min(1, 'must not be empty; say what was decided')
      .max(HISTORY_LIMITS.decisionMaxChars),
    reasoning: z.string().trim().max(HISTORY_LIMITS.reasoningMaxChars).default(''),
    metadata: z
      .record(z.string(), z.unknown())
      .refine((m) => jsonBytes(m) <= HISTORY_LIMITS.decisionMetadataMaxBytes, {
        message: `must serialise to at most ${HISTORY_LIMITS.decisionMetadataMaxBytes} bytes of JSON`,
      })
      .optional(),
  })
  .strict();

export type DecisionInput = z.input<typeof decisionInputSchema>;

export const decisionQuerySchema = z
  .object({
    taskId,
    agentId: z.string().min(1).optional(),
    since: isoDateTime.optional(),
    until: isoDateTime.optional(),
    includeRewound: z.boolean().default(true),
    limit: z.number().int().min(1).max(HISTORY_LIMITS.listMax).default(HISTORY_LIMITS.listDefault),
    offset: z.number().int().min(0).default(0),
    order: z.enum(['asc', 'desc']).default('asc'),
  })
  .strict();

export type DecisionQueryInput = z.input<typeof decisionQuerySchema>;
export type DecisionQuery = z.output<typeof decisionQuerySchema>;

// ---------------------------------------------------------------------------------------- checkpoints

/** What a checkpoint holds. Decisions and executions are append-only, so a mark (highest seq) pins them. */
export interface Checkpoint {
  /** `chk_…` */
  id: string;
  taskId: string;
  description: string;
  createdAt: string;
  agentId?: string;
  /** The task's state document at the time (null when the task had none). */
  state: StateDoc | null;
  /** The log position (LogStore.end) at the time: entries before it are "before the checkpoint". */
  logPosition: number;
  decisionMark: number;
  executionMark: number;
  /** The task's status, metadata etc. at the time, for restore and fork. */
  task: Record<string, unknown>;
  /** What the sandbox snapshotter returned (image ids, archive paths), or absent without a sandbox. */
  snapshot?: Record<string, unknown>;
}

export const checkpointInputSchema = z
  .object({
    taskId,
    description: z
      .string({ error: 'is required' })
      .trim()
      .min(1, 'must not be empty; say what this checkpoint is')
      .max(HISTORY_LIMITS.checkpointDescriptionMax),
    agentId: z.string().trim().min(1).max(200).optional(),
  })
  .strict();

export type CheckpointInput = z.input<typeof checkpointInputSchema>;
