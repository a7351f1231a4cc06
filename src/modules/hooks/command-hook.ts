import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { ValidationError } from '../../domain/errors';
import { parseJsonValue, parseOrThrow } from '../../domain/validation';
import {
  DEFAULT_HOOK_PRIORITY,
  TASK_HOOK_EVENTS,
  type HookContext,
  type HookRegistration,
} from './hook.types';

/** Largest stdout/stderr kept from a hook command; the rest is dropped. */
export const HOOK_OUTPUT_CAP = 64 * 1024;
export const HOOK_TIMEOUT_MAX_MS = 300_000;

const hookFileSchema = z
  .object({
    hooks: z.array(
      z
        .object({
          name: z.string().min(1).optional(),
          event: z.enum(TASK_HOOK_EVENTS, {
            error: `must be one of: ${TASK_HOOK_EVENTS.join(', ')}`,
          }),
          command: z
            .array(z.string())
            .min(
              1,
              'must be a non-empty argv array such as ["./check.sh", "--strict"] (no shell is used)',
            ),
          priority: z.number().int().default(DEFAULT_HOOK_PRIORITY),
          timeoutMs: z.number().int().positive().max(HOOK_TIMEOUT_MAX_MS).optional(),
          env: z.record(z.string(), z.string()).optional(),
          cwd: z.string().optional(),
        })
        .strict(),
    ),
  })
  .strict();

export type CommandHookSpec = z.output<typeof hookFileSchema>['hooks'][number];

/** Reads the hook file; a missing file means no command hooks, a malformed one is an error naming it. */
export function loadCommandHooks(file: string): CommandHookSpec[] {
  if (!existsSync(file)) return [];
  const value = parseJsonValue(readFileSync(file, 'utf8'), file);
  try {
    return parseOrThrow(hookFileSchema, value).hooks;
  } catch (err) {
    if (err instanceof ValidationError) {
      throw new ValidationError(`${file}: ${err.field}`, err.message.slice(err.field.length + 2));
    }
    throw err;
  }
}

export interface CommandResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  spawnError?: string;
}

/**
 * Runs one hook command: argv without a shell, the JSON payload on stdin, output capped, the whole
 * process group killed at the timeout.
 */
export function runHookCommand(
  spec: CommandHookSpec,
  payload: unknown,
  timeoutMs: number,
): Promise<CommandResult> {
  return new Promise((resolvePromise) => {
    const [file, ...args] = spec.command;
    const child = spawn(file, args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let timedOut = false;
    let spawnError: string | undefined;
    const keep = (chunks: Buffer[], size: number, chunk: Buffer) => {
      if (size < HOOK_OUTPUT_CAP) chunks.push(chunk.subarray(0, HOOK_OUTPUT_CAP - size));
      return size + chunk.length;
    };
    child.stdout.on('data', (c: Buffer) => (outBytes = keep(out, outBytes, c)));
    child.stderr.on('data', (c: Buffer) => (errBytes = keep(err, errBytes, c)));
    child.stdin.on('error', () => undefined); // the hook may exit without reading its stdin
    child.on('error', (e) => (spawnError = e.message));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      resolvePromise({
        exitCode,
        signal,
        timedOut,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        spawnError,
      });
    });
    child.stdin.end(JSON.stringify(payload));
  });
}

/** Why a hook command counts as failed, or null when it succeeded. */
export function commandFailure(r: CommandResult, timeoutMs: number): string | null {
  if (r.spawnError) return `cannot run command: ${r.spawnError}`;
  if (r.timedOut) return `timed out after ${timeoutMs}ms`;
  if (r.exitCode === 0) return null;
  const why = r.stderr.trim() || r.stdout.trim();
  const status = r.exitCode !== null ? `exit code ${r.exitCode}` : `killed by ${r.signal}`;
  return why ? why.split('\n').slice(-20).join('\n') : status;
}

export function commandHookRegistration(
  spec: CommandHookSpec,
  defaultTimeoutMs: number,
): HookRegistration {
  const timeoutMs = spec.timeoutMs ?? defaultTimeoutMs;
  const name = spec.name ?? spec.command.join(' ');
  return {
    name,
    event: spec.event,
    priority: spec.priority,
    handler: async (ctx: HookContext) => {
      const result = await runHookCommand(spec, ctx, timeoutMs);
      const failure = commandFailure(result, timeoutMs);
      if (failure) throw new Error(failure);
    },
  };
}
