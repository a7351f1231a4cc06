import { Injectable, Optional } from '@nestjs/common';
import { z } from 'zod';
import { LiveExecutionsService, type ExecView } from '../../docker/live-executions.service';
import { SandboxService } from '../../docker/sandbox.service';
import { defineTool, type McpToolDefinition, type McpToolProvider } from '../mcp-tool';
import { formatBytes, headTail, isText } from '../output-budget';
import { fields } from '../tool-schemas';

/** Default and largest output returned per stream by execute_in_task (the journal keeps more). */
const OUTPUT_DEFAULT = 16 * 1024;
const OUTPUT_MAX = 1024 * 1024;
/** Default and largest file content returned by read_file. */
const READ_DEFAULT = 256 * 1024;
const READ_MAX = 8 * 1024 * 1024;
const PROGRESS_EVERY_MS = 1000;

const path = z
  .string()
  .min(1, 'must not be empty')
  .max(4096)
  .describe(
    'File path in the sandbox; relative paths are under the workspace, e.g. "src/index.ts".',
  );

/** Commands and files in a task's sandbox; present when the Docker module is. */
@Injectable()
export class SandboxTools implements McpToolProvider {
  constructor(
    @Optional() private readonly sandboxes?: SandboxService,
    @Optional() private readonly executions?: LiveExecutionsService,
  ) {}

  tools(): McpToolDefinition[] {
    const sandboxes = this.sandboxes;
    const executions = this.executions;
    if (!sandboxes || !executions) return [];
    return [
      defineTool({
        name: 'execute_in_task',
        title: 'Run a command in the task sandbox',
        description:
          'Run a command in the task\'s isolated sandbox and return its exit code and output (head and tail within maxOutputBytes per stream; the byte counts are the full sizes). A non-zero exit is a normal result, not an error. Shell strings run in the task\'s persistent shell session (cd and exported variables carry over). If the command is still running after yieldMs (default 30 s) the answer is status "running" with the output so far and the command goes on: continue with exec_poll, exec_wait or exec_kill using its executionId (also after reconnecting or a server restart). Long commands send progress; cancelling the call kills the command.',
        input: {
          taskId: fields.taskId,
          agentId: fields.agentId,
          command: z
            .union([
              z.string().trim().min(1, 'must not be empty'),
              z.array(z.string()).min(1, 'must not be empty'),
            ])
            .describe(
              `Either a shell string run by ${sandboxes.shellDescription} (pipes, &&, globs work), e.g. "npm test 2>&1 | tail -50", or an argv array run without a shell, e.g. ["git", "status"].`,
            ),
          timeoutMs: z
            .number()
            .int()
            .positive()
            .optional()
            .describe('Kill the command after this many milliseconds (default 60000).'),
          env: z
            .record(
              z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'names are [A-Za-z_][A-Za-z0-9_]*'),
              z.string(),
            )
            .optional()
            .describe('Extra environment variables for this command, e.g. {"CI":"1"}.'),
          workdir: z
            .string()
            .startsWith('/', 'must be an absolute path')
            .optional()
            .describe('Working directory (absolute path). Default: the sandbox workspace.'),
          stdin: z.string().optional().describe("Text written to the command's standard input."),
          fresh: z
            .boolean()
            .optional()
            .describe(
              "Shell strings run in the task's persistent shell session: the working directory and exported variables carry over between calls, like a terminal. true runs this one in a clean process instead (argv commands always do).",
            ),
          maxOutputBytes: z
            .number()
            .int()
            .min(256)
            .max(OUTPUT_MAX)
            .optional()
            .describe(`Output returned per stream, head and tail (default ${OUTPUT_DEFAULT}).`),
          yieldMs: z
            .number()
            .int()
            .min(0)
            .optional()
            .describe(
              'Answer status "running" after this many milliseconds if the command has not ended (default 30000); the command keeps running.',
            ),
          idempotencyKey: z
            .string()
            .min(1)
            .max(200)
            .optional()
            .describe(
              "A key of your choosing for this command in this task: a retry with the same key returns the first call's execution instead of running the command again.",
            ),
        },
        output: { ...execShape, replayed: z.boolean().optional() },
        annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
        async handler(a, ctx) {
          const started = Date.now();
          const seen = { stdout: 0, stderr: 0 };
          const timeoutS = a.timeoutMs ? Math.ceil(a.timeoutMs / 1000) : undefined;
          const timer = setInterval(() => {
            const s = Math.round((Date.now() - started) / 1000);
            void ctx.progress(
              s,
              timeoutS,
              `running for ${s}s; stdout ${formatBytes(seen.stdout)}, stderr ${formatBytes(seen.stderr)}`,
            );
          }, PROGRESS_EVERY_MS);
          timer.unref();
          let r: ExecView;
          try {
            r = await executions.run(
              a.taskId,
              {
                command: a.command,
                env: a.env,
                workdir: a.workdir,
                stdin: a.stdin,
                fresh: a.fresh,
                timeoutMs: a.timeoutMs,
                agentId: a.agentId,
                yieldMs: a.yieldMs,
                idempotencyKey: a.idempotencyKey,
              },
              (stream, chunk) => (seen[stream] += chunk.length),
              ctx.signal,
            );
          } finally {
            clearInterval(timer);
          }
          return execOutput(r, a.maxOutputBytes ?? OUTPUT_DEFAULT);
        },
      }),
      ...execControlTools(executions),
      defineTool({
        name: 'read_file',
        title: 'Read a file from the task sandbox',
        description:
          'Read a file in the task sandbox. Text comes back as UTF-8; binary content as base64 (encoding says which).',
        input: {
          taskId: fields.taskId,
          agentId: fields.actingAgentId,
          path,
          maxBytes: z
            .number()
            .int()
            .min(1)
            .max(READ_MAX)
            .optional()
            .describe(
              `Return at most this many bytes (default ${READ_DEFAULT}); "truncated" says if more exist.`,
            ),
        },
        output: {
          path: z.string(),
          content: z.string(),
          encoding: z.enum(['utf8', 'base64']),
          bytes: z.number().int(),
          truncated: z.boolean(),
        },
        annotations: { readOnlyHint: true, idempotentHint: true },
        async handler(a) {
          const buf = await sandboxes.readFile(a.taskId, a.path, { agentId: a.agentId });
          const max = a.maxBytes ?? READ_DEFAULT;
          const part = buf.length > max ? buf.subarray(0, max) : buf;
          const text = isText(part);
          return {
            structured: {
              path: a.path,
              content: text ? part.toString('utf8') : part.toString('base64'),
              encoding: text ? 'utf8' : 'base64',
              bytes: buf.length,
              truncated: part.length < buf.length,
            },
            // Text files come back readable; binary ones keep the JSON form (base64 in `content`).
            text: text
              ? `${a.path}: ${formatBytes(buf.length)}${part.length < buf.length ? `, first ${formatBytes(part.length)} shown` : ''}.\n${part.toString('utf8')}`
              : `${a.path}: ${formatBytes(buf.length)}, binary (base64 in content).`,
            fullText: text,
          };
        },
      }),
      defineTool({
        name: 'write_file',
        title: 'Write a file in the task sandbox',
        description:
          'Create or overwrite a file in the task sandbox (parent directories are created).',
        input: {
          taskId: fields.taskId,
          agentId: fields.agentId,
          path,
          content: z.string().describe('The whole new content of the file.'),
          encoding: z
            .enum(['utf8', 'base64'])
            .optional()
            .describe('How content is encoded: "utf8" (default) or "base64" for binary files.'),
        },
        output: { path: z.string(), bytes: z.number().int() },
        annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
        async handler(a) {
          const buf = Buffer.from(a.content, a.encoding === 'base64' ? 'base64' : 'utf8');
          await sandboxes.writeFile(a.taskId, a.path, buf, { agentId: a.agentId });
          return {
            structured: { path: a.path, bytes: buf.length },
            text: `Wrote ${formatBytes(buf.length)} to ${a.path}.`,
          };
        },
      }),
    ];
  }
}

const execShape = {
  executionId: z.string(),
  status: z.enum(['running', 'completed', 'lost']),
  exitCode: z.number().int().nullable(),
  stdout: z.string(),
  stderr: z.string(),
  timedOut: z.boolean(),
  truncated: z.boolean(),
  stdoutBytes: z.number().int(),
  stderrBytes: z.number().int(),
  durationMs: z.number(),
};

/** The answer of execute_in_task, exec_wait and exec_kill. */
function execOutput(r: ExecView, budget: number) {
  const stdout = headTail(r.stdout, budget);
  const stderr = headTail(r.stderr, budget);
  const how =
    r.status === 'running'
      ? `is still running after ${r.durationMs}ms; continue with exec_poll / exec_wait / exec_kill`
      : r.status === 'lost'
        ? 'was lost'
        : r.timedOut
          ? `timed out after ${r.durationMs}ms`
          : r.killed
            ? `was killed after ${r.durationMs}ms`
            : `exited ${r.exitCode ?? '(killed)'} in ${r.durationMs}ms`;
  const oom = r.oomKilled ? ' It was killed for exceeding the memory limit.' : '';
  const replay = r.replayed ? ' (replayed: an earlier call with this idempotency key)' : '';
  return {
    structured: {
      executionId: r.executionId,
      status: r.status,
      ...(r.replayed ? { replayed: true } : {}),
      exitCode: r.exitCode,
      stdout: stdout.text,
      stderr: stderr.text,
      timedOut: r.timedOut,
      truncated: r.truncated || stdout.truncated || stderr.truncated,
      stdoutBytes: r.stdoutBytes,
      stderrBytes: r.stderrBytes,
      durationMs: r.durationMs,
      oomKilled: r.oomKilled,
    },
    text: [
      `Command ${how} (execution ${r.executionId})${replay}; stdout ${formatBytes(r.stdoutBytes)}, stderr ${formatBytes(r.stderrBytes)}.${oom}`,
      ...(stdout.text ? ['[stdout]', stdout.text.replace(/\n$/, '')] : []),
      ...(stderr.text ? ['[stderr]', stderr.text.replace(/\n$/, '')] : []),
    ].join('\n'),
    fullText: true,
  };
}

const executionId = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .describe('The executionId execute_in_task returned, e.g. "exe_01j…".');

/** exec_poll, exec_wait, exec_kill: continue an execution that answered "running". */
function execControlTools(executions: LiveExecutionsService): McpToolDefinition[] {
  return [
    defineTool({
      name: 'exec_poll',
      title: 'Read new output of a running command',
      description:
        'Output of an execution from the given byte offsets on, and its status. Pass the returned stdoutOffset / stderrOffset back next time to get only what is new.',
      input: {
        executionId,
        stdoutOffset: z
          .number()
          .int()
          .min(0)
          .optional()
          .describe('Byte offset in stdout (default 0).'),
        stderrOffset: z
          .number()
          .int()
          .min(0)
          .optional()
          .describe('Byte offset in stderr (default 0).'),
        maxBytes: z
          .number()
          .int()
          .min(256)
          .max(OUTPUT_MAX)
          .optional()
          .describe(`Most bytes returned per stream (default ${OUTPUT_DEFAULT}).`),
      },
      output: {
        executionId: z.string(),
        status: z.enum(['running', 'completed', 'lost']),
        exitCode: z.number().int().nullable(),
        timedOut: z.boolean(),
        stdout: z.string(),
        stderr: z.string(),
        stdoutOffset: z.number().int(),
        stderrOffset: z.number().int(),
        stdoutSkipped: z.number().int(),
        stderrSkipped: z.number().int(),
        stdoutBytes: z.number().int(),
        stderrBytes: z.number().int(),
      },
      annotations: { readOnlyHint: true, idempotentHint: true },
      async handler(a) {
        const p = await executions.poll(a.executionId, {
          stdoutOffset: a.stdoutOffset,
          stderrOffset: a.stderrOffset,
          maxBytes: a.maxBytes ?? OUTPUT_DEFAULT,
        });
        const { taskId: _t, ...structured } = p;
        void _t;
        return {
          structured,
          text: [
            `Execution ${p.executionId} is ${p.status}${p.status === 'completed' ? ` (exit ${p.exitCode ?? 'none'}${p.timedOut ? ', timed out' : ''})` : ''}; next offsets stdout ${p.stdoutOffset}, stderr ${p.stderrOffset}.`,
            ...(p.stdout ? ['[stdout]', p.stdout.replace(/\n$/, '')] : []),
            ...(p.stderr ? ['[stderr]', p.stderr.replace(/\n$/, '')] : []),
          ].join('\n'),
          fullText: true,
        };
      },
    }),
    defineTool({
      name: 'exec_wait',
      title: 'Wait for a running command to end',
      description:
        'Waits up to timeoutMs for an execution to end and returns its result (or status "running" with the output so far).',
      input: {
        executionId,
        timeoutMs: z
          .number()
          .int()
          .min(0)
          .max(30 * 60_000)
          .optional()
          .describe('How long to wait, in milliseconds (default 30000).'),
        maxOutputBytes: z
          .number()
          .int()
          .min(256)
          .max(OUTPUT_MAX)
          .optional()
          .describe(`Output returned per stream, head and tail (default ${OUTPUT_DEFAULT}).`),
      },
      output: execShape,
      annotations: { readOnlyHint: true, idempotentHint: true },
      async handler(a) {
        const r = await executions.wait(a.executionId, a.timeoutMs ?? 30_000);
        return execOutput(r, a.maxOutputBytes ?? OUTPUT_DEFAULT);
      },
    }),
    defineTool({
      name: 'exec_kill',
      title: 'Kill a running command',
      description:
        "Kills an execution's process group and every process it started, and returns its final result.",
      input: { executionId, agentId: fields.actingAgentId },
      output: execShape,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
      async handler(a) {
        const r = await executions.kill(a.executionId, { agentId: a.agentId });
        return execOutput(r, OUTPUT_DEFAULT);
      },
    }),
  ];
}
