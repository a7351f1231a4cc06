import { z } from 'zod';
import { fitsUtf8 } from './utf8';

/** Limits of one execution record; the Docker module caps output before it gets here. */
export const EXECUTION_LIMITS = {
  /** Largest head or tail of stdout/stderr kept in the journal (bytes of UTF-8 each). */
  outputExcerptMaxBytes: 64 * 1024,
  commandMaxBytes: 64 * 1024,
  listMax: 1000,
  listDefault: 50,
} as const;

/**
 * One command run in a task's sandbox, as the executions journal keeps it. The full output, when it
 * is kept at all, lives elsewhere (`outputRef`: a file path or URI); the journal holds its head and tail.
 */
export interface ExecutionRecord {
  /** `exe_…` (see `newId('exe')`). */
  id: string;
  taskId: string;
  agentId?: string;
  /** An argv array, or a shell string run with `sh -c`. */
  command: string | string[];
  startedAt: string;
  durationMs: number;
  /** null when the process was killed and no exit code was reported. */
  exitCode: number | null;
  timedOut: boolean;
  /** True when stdout or stderr was longer than what was kept. */
  truncated: boolean;
  stdoutBytes: number;
  stderrBytes: number;
  stdoutHead: string;
  stdoutTail: string;
  stderrHead: string;
  stderrTail: string;
  /** Where the complete output is (file path or URI), if it was kept. */
  outputRef?: string;
  /** Assigned by the store: increasing per store, used as a checkpoint's high-water mark. */
  seq?: number;
  /** Set when a checkpoint restore rewound the task past this record (the checkpoint id). */
  rewoundBy?: string;
}

const excerpt = z
  .string()
  .refine((s) => Buffer.byteLength(s, 'utf8') <= EXECUTION_LIMITS.outputExcerptMaxBytes, {
    message: `must be at most ${EXECUTION_LIMITS.outputExcerptMaxBytes} bytes`,
  })
  .default('');
const count = z.number().int().min(0);

export const executionRecordSchema = z
  .object({
    id: z.string().min(1, 'is required'),
    taskId: z.string().trim().min(1, 'is required'),
    agentId: z.string().trim().min(1).max(200).optional(),
    command: z
      .union([z.string().min(1), z.array(z.string()).min(1)], {
        error: 'must be a non-empty string or argv array',
      })
      .refine((c) => Buffer.byteLength(JSON.stringify(c)) <= EXECUTION_LIMITS.commandMaxBytes, {
        message: `must be at most ${EXECUTION_LIMITS.commandMaxBytes} bytes`,
      }),
    startedAt: z.iso.datetime({ offset: true, error: 'must be an ISO-8601 date-time' }),
    durationMs: z.number().min(0),
    exitCode: z.number().int().nullable(),
    timedOut: z.boolean(),
    truncated: z.boolean(),
    stdoutBytes: count,
    stderrBytes: count,
    stdoutHead: excerpt,
    stdoutTail: excerpt,
    stderrHead: excerpt,
    stderrTail: excerpt,
    outputRef: z.string().min(1).optional(),
  })
  .strict();

export type ExecutionRecordInput = z.input<typeof executionRecordSchema>;

/**
 * True when a record built by our own code (ids, times, counts and excerpts it made itself) is
 * within every limit of {@link executionRecordSchema} without parsing it: only the fields a caller's
 * input sets are checked (the command's size, the agent id) and the excerpts' sizes.
 */
export function runRecordFits(r: ExecutionRecord): boolean {
  const a = r.agentId;
  return (
    (a === undefined || (a.length > 0 && a.length <= 200 && a.trim() === a)) &&
    r.taskId.length > 0 &&
    r.taskId.trim() === r.taskId &&
    fitsUtf8(JSON.stringify(r.command), EXECUTION_LIMITS.commandMaxBytes) &&
    [r.stdoutHead, r.stdoutTail, r.stderrHead, r.stderrTail].every((s) =>
      fitsUtf8(s, EXECUTION_LIMITS.outputExcerptMaxBytes),
    )
  );
}

export const executionQuerySchema = z
  .object({
    taskId: z.string().trim().min(1, 'is required'),
    agentId: z.string().min(1).optional(),
    since: z.iso.datetime({ offset: true, error: 'must be an ISO-8601 date-time' }).optional(),
    until: z.iso.datetime({ offset: true, error: 'must be an ISO-8601 date-time' }).optional(),
    /** Only failed runs (non-zero or missing exit code, or timed out). */
    failedOnly: z.boolean().default(false),
    includeRewound: z.boolean().default(true),
    limit: z
      .number()
      .int()
      .min(1)
      .max(EXECUTION_LIMITS.listMax)
      .default(EXECUTION_LIMITS.listDefault),
    offset: z.number().int().min(0).default(0),
    order: z.enum(['asc', 'desc']).default('desc'),
  })
  .strict();

export type ExecutionQueryInput = z.input<typeof executionQuerySchema>;
export type ExecutionQuery = z.output<typeof executionQuerySchema>;
