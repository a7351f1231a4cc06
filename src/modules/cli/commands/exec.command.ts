import { Command, Help, Option } from 'nest-commander';
import { ValidationError } from '../../../domain/errors';
import {
  CancelledError,
  LiveExecutionsService,
  type ExecView,
} from '../../docker/live-executions.service';
import { BaseCommand, parse, taskIdFrom, type BaseOptions } from '../base.command';
import { emit } from '../output';

interface ExecOpts extends BaseOptions {
  task?: string;
  agent?: string;
  timeout?: number;
  workdir?: string;
  env?: Record<string, string>;
  shell?: string;
  stdin?: boolean;
  fresh?: boolean;
  yield?: number;
  idempotencyKey?: string;
}

/** Exit status of `exec` when the command timed out (as timeout(1) does). */
export const EXEC_TIMEOUT_EXIT = 124;
/** Exit status when the command is still running (EX_TEMPFAIL: continue with exec-wait). */
export const EXEC_RUNNING_EXIT = 75;

/**
 * Signals that interrupt a running `exec` (Ctrl-C, a closed terminal, `kill`): the command is
 * killed in the sandbox (as a terminal's hang-up does), then the CLI exits 128 + the number. A
 * second one exits at once.
 */
const STOP_SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;
type StopSignal = keyof typeof STOP_SIGNALS;

/** The longest a timer waits: without --yield, the answer comes with the command's end. */
const NO_YIELD_MS = 2 ** 31 - 1;

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

@Command({
  name: 'exec',
  arguments: '[cmd...]',
  description:
    "run a command in a task's sandbox, streaming its output; exits with the command's exit code",
})
export class ExecCommand extends BaseCommand<ExecOpts> {
  constructor(private readonly executions: LiveExecutionsService) {
    super();
  }

  protected async execute(argv: string[], o: ExecOpts): Promise<void> {
    const taskId = taskIdFrom([], o);
    if (o.shell !== undefined && argv.length) {
      throw new ValidationError('--shell', 'give either --shell "<script>" or -- <cmd…>, not both');
    }
    if (o.shell === undefined && !argv.length) {
      throw new ValidationError(
        'command',
        'is required; e.g. exec --task <id> -- ls -la, or --shell "make && make test"',
      );
    }
    const json = !!o.json;
    const input = {
      command: o.shell !== undefined ? { shell: o.shell } : argv,
      agentId: o.agent,
      timeoutMs: o.timeout,
      workdir: o.workdir,
      env: o.env,
      stdin: o.stdin ? await readStdin() : undefined,
      fresh: o.fresh,
    };
    // Live streaming in human mode; --json prints one document at the end.
    // (Muted once a signal came: after a hang-up the terminal is gone, and a write would fail.)
    let muted = false;
    const stream = json
      ? undefined
      : (s: 'stdout' | 'stderr', chunk: Buffer) =>
          muted || (s === 'stdout' ? process.stdout : process.stderr).write(chunk);
    // Without --yield the command runs to its end. Either way it has a runtime record once it
    // ran RECORD_AFTER_MS, so its deadline holds even if this process is killed -9.
    const ac = new AbortController();
    let caught: StopSignal | undefined;
    const onSignal = (sig: StopSignal) => {
      if (caught) {
        // At once, but not before the record that lets a server end the command is written.
        const code = 128 + STOP_SIGNALS[caught];
        void this.executions.flush(1000).finally(() => process.exit(code));
        return;
      }
      caught = sig;
      muted = true;
      if (sig !== 'SIGHUP') {
        process.stderr.write(
          `opencode-tools: ${sig}: killing the command in the sandbox (again to exit at once)\n`,
        );
      }
      ac.abort();
    };
    const signals = Object.keys(STOP_SIGNALS) as StopSignal[];
    for (const sig of signals) process.on(sig, onSignal);
    let result: ExecView;
    try {
      result = await this.executions.run(
        taskId,
        { ...input, yieldMs: o.yield ?? NO_YIELD_MS, idempotencyKey: o.idempotencyKey },
        stream,
        ac.signal,
      );
    } catch (err) {
      // Interrupted before the command started (or while waiting on a replay): nothing to kill.
      if (!(caught && err instanceof CancelledError)) throw err;
      process.exitCode = 128 + STOP_SIGNALS[caught];
      return;
    } finally {
      for (const sig of signals) process.off(sig, onSignal);
    }
    if (caught) {
      if (json) emit(true, result, () => '');
      process.exitCode = 128 + STOP_SIGNALS[caught];
      return;
    }
    if (result.replayed && !json) {
      // Nothing was streamed for a replay: show what the first run printed.
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
    }
    if (json) {
      emit(true, result, () => '');
      if (result.status !== 'completed') process.exitCode = EXEC_RUNNING_EXIT;
      return;
    }
    if (result.status === 'running') {
      process.stderr.write(
        `opencode-tools: still running as execution ${result.executionId}; continue with exec-poll, exec-wait or exec-kill --execution ${result.executionId}\n`,
      );
      process.exitCode = EXEC_RUNNING_EXIT;
      return;
    }
    const notes: string[] = [];
    if (result.timedOut)
      notes.push(`timed out after ${result.durationMs}ms; the command was killed`);
    if (result.oomKilled) notes.push('killed: out of memory (raise the sandbox memory limit)');
    if (result.truncated) {
      notes.push(
        `output over the per-stream cap (stdout ${result.stdoutBytes} bytes, stderr ${result.stderrBytes} bytes); the middle was dropped from the recorded output`,
      );
    }
    for (const n of notes) process.stderr.write(`opencode-tools: ${n}\n`);
    process.exitCode = result.timedOut ? EXEC_TIMEOUT_EXIT : (result.exitCode ?? 1);
  }

  @Option({ flags: '--task <id>', description: 'the task whose sandbox runs the command' })
  parseTask(v: string) {
    return v;
  }
  @Option({ flags: '--agent <id>', description: 'act as this agent (must be attached)' })
  parseAgent(v: string) {
    return v;
  }
  @Option({
    flags: '--timeout <duration>',
    description: 'kill the command after this long (default OPENCODE_EXEC_TIMEOUT, 60s)',
  })
  parseTimeout(v: string) {
    return parse.duration('--timeout', v);
  }
  @Option({
    flags: '--workdir <path>',
    description: 'working directory (default the sandbox workdir)',
  })
  parseWorkdir(v: string) {
    return v;
  }
  @Option({ flags: '--env <NAME=value>', description: 'environment variable (repeatable)' })
  parseEnv(v: string, prev: Record<string, string> = {}) {
    const i = v.indexOf('=');
    if (i < 1) throw new ValidationError('--env', `expected NAME=value, got '${v}'`);
    return { ...prev, [v.slice(0, i)]: v.slice(i + 1) };
  }
  @Option({
    flags: '--shell <script>',
    description:
      'run this script in the sandbox shell (/bin/sh; OPENCODE_SANDBOX_SHELL=bash|auto for bash) instead of argv',
  })
  parseShell(v: string) {
    return v;
  }
  @Option({
    flags: '--fresh',
    description:
      "with --shell: run in a clean process, not the task's persistent session (whose directory and exported variables carry over)",
  })
  parseFresh() {
    return true;
  }
  @Option({
    flags: '--yield <duration>',
    description:
      'answer after this long even if the command still runs (exit 75, execution id on stderr); it goes on',
  })
  parseYield(v: string) {
    return parse.duration('--yield', v);
  }
  @Option({
    flags: '--idempotency-key <key>',
    description: 'a retry with the same key returns the first run instead of running again',
  })
  parseIdempotencyKey(v: string) {
    return v;
  }
  @Option({ flags: '--stdin', description: "pass this process's standard input to the command" })
  parseStdin() {
    return true;
  }
  @Help('after')
  examples() {
    return `
Exit status: the command's own exit code; ${EXEC_TIMEOUT_EXIT} when it timed out; ${EXEC_RUNNING_EXIT} when it still runs
after --yield, or runs on after this process lost its session (continue with exec-wait); with --json, 0 (${EXEC_RUNNING_EXIT} while running) and the result
document ({executionId, status, exitCode, stdout, stderr, timedOut, truncated, stdoutBytes, …}).
Ctrl-C (SIGINT), SIGTERM or SIGHUP before the answer kills the command in the sandbox, then exits
130, 143 or 129 (a second signal exits at once); to leave a command running, use --yield.
Errors of the tool itself: 2 bad input, 3 task or sandbox not found, 4 task not live / agent not
attached, 5 Docker engine unavailable.

Examples:
  opencode-tools exec --task tsk_01j… -- npm test
  opencode-tools exec --task tsk_01j… --timeout 2m --shell 'make && make check'
  echo '{"a":1}' | opencode-tools exec --task tsk_01j… --stdin --json -- jq .a`;
  }
}
