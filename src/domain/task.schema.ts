import { z } from 'zod';
import { MIN_PIDS, NETWORK_POLICIES, TASK_MODES, TASK_STATUSES } from './task';

export const LIMITS = {
  nameMax: 200,
  descriptionMax: 10_000,
  ownerMax: 200,
  metadataMaxBytes: 64 * 1024,
  resultMaxBytes: 256 * 1024,
  errorMax: 10_000,
  listMax: 1000,
  listDefault: 50,
} as const;

const jsonBytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v) ?? '', 'utf8');

export const metadataSchema = z
  .record(z.string(), z.unknown())
  .refine((m) => jsonBytes(m) <= LIMITS.metadataMaxBytes, {
    message: `must serialise to at most ${LIMITS.metadataMaxBytes} bytes of JSON`,
  });

const envName = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const sandboxSpecSchema = z
  .object({
    image: z.string().min(1, 'must not be empty').max(512).optional(),
    limits: z
      .object({
        cpus: z.number().positive('must be > 0').max(1024).optional(),
        memoryMb: z
          .number()
          .int('must be a whole number of MiB')
          .min(6, 'must be at least 6 MiB')
          .optional(),
        pids: z
          .number()
          .int()
          .min(MIN_PIDS, `must be at least ${MIN_PIDS} (an exec session alone takes 7)`)
          .optional(),
      })
      .strict()
      .optional(),
    network: z.enum(NETWORK_POLICIES).optional(),
    env: z
      .record(
        z.string().regex(envName, 'environment variable names are [A-Za-z_][A-Za-z0-9_]*'),
        z.string(),
      )
      .optional(),
    workdir: z.string().startsWith('/', 'must be an absolute path').optional(),
    mounts: z
      .array(
        z
          .object({
            source: z.string().startsWith('/', 'must be an absolute host path'),
            target: z.string().startsWith('/', 'must be an absolute path in the sandbox'),
            readOnly: z.boolean().optional(),
          })
          .strict(),
      )
      .max(16, 'at most 16 host mounts')
      .optional(),
  })
  .strict();

export const createTaskSchema = z
  .object({
    name: z
      .string({ error: 'is required' })
      .trim()
      .min(1, 'must not be empty')
      .max(LIMITS.nameMax, `must be at most ${LIMITS.nameMax} characters`),
    description: z.string().max(LIMITS.descriptionMax).optional(),
    owner: z.string().trim().min(1, 'must not be empty').max(LIMITS.ownerMax).default('anonymous'),
    mode: z
      .enum(TASK_MODES, { error: `must be one of: ${TASK_MODES.join(', ')}` })
      .default('exclusive'),
    metadata: metadataSchema.default({}),
    sandbox: sandboxSpecSchema.optional(),
  })
  .strict();

export type CreateTaskInput = z.input<typeof createTaskSchema>;

export const TASK_SORT_FIELDS = ['createdAt', 'updatedAt', 'name', 'status'] as const;

export const listTasksSchema = z
  .object({
    status: z
      .array(z.enum(TASK_STATUSES, { error: `must be one of: ${TASK_STATUSES.join(', ')}` }))
      .optional(),
    owner: z.string().min(1).optional(),
    mode: z.enum(TASK_MODES, { error: `must be one of: ${TASK_MODES.join(', ')}` }).optional(),
    createdSince: z.iso
      .datetime({ offset: true, error: 'must be an ISO-8601 date-time' })
      .optional(),
    createdUntil: z.iso
      .datetime({ offset: true, error: 'must be an ISO-8601 date-time' })
      .optional(),
    limit: z.number().int().min(1).max(LIMITS.listMax).default(LIMITS.listDefault),
    offset: z.number().int().min(0).default(0),
    sort: z.enum(TASK_SORT_FIELDS).default('createdAt'),
    order: z.enum(['asc', 'desc']).default('desc'),
  })
  .strict();

export type ListTasksInput = z.input<typeof listTasksSchema>;

/** A text search narrowed by any of the list filters, paged and ordered like a list. */
export const findTasksSchema = listTasksSchema.extend({
  text: z
    .string({ error: 'is required' })
    .trim()
    .min(1, 'must not be empty; give some text to look for')
    .max(500),
});

export type FindTasksFilter = Omit<z.input<typeof findTasksSchema>, 'text'>;
export type ListTasksQuery = z.output<typeof listTasksSchema>;
