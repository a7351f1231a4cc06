import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { z } from 'zod';
import { utf8IfOver } from '../../domain/utf8';
import { OPENCODE_OPTIONS, type OpenCodeToolsOptions } from '../../config/options';
import { DomainError, NotFoundError, ValidationError } from '../../domain/errors';
import { newId } from '../../domain/ids';
import { sandboxPath } from '../../domain/sandbox-path';
import { isTerminal, type Task } from '../../domain/task';
import { parseOrThrow } from '../../domain/validation';
import {
  SANDBOX_RUNTIME,
  type ExecOutputListener,
  type ExecResult,
  type PullProgressListener,
  type SandboxInfo,
  type SandboxResource,
  type SandboxRuntime,
  type SandboxStats,
  type StartedExec,
} from '../../ports/sandbox-runtime.port';
import { TASK_REPOSITORY, type TaskRepository } from '../../ports/task-repository.port';
import { ExecutionsService } from '../history/executions.service';
import { AgentAttachmentService } from '../locks/agent-attachment.service';
import { SandboxAlerts } from './sandbox-alerts';
import { SandboxPlacementService, type EngineRef } from './sandbox-placement.service';
import { resolveSandboxConfig } from './sandbox-policy';
import { SessionStateService } from './session-state.service';
import { SANDBOX_EVENTS, type SandboxExecEvent, type SandboxPullEvent } from './sandbox.events';

const envName = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Built once: a zod schema costs more to build than to check (it ran on every exec). */
const TASK_ID = z.string().trim().min(1, 'is required');

export const execInputSchema = z
  .object({
    // Checked by commandOf(): a union's errors would not say which rule the input broke.
    command: z.unknown(),
    env: z
      .record(
        z
          .string()
          .regex(envName, 'names are [A-Za-z_][A-Za-z0-9_]*')
          .refine((k) => !/^__oct_/i.test(k), 'names starting with __oct_ are reserved'),
        z.string().refine((v) => !v.includes('\0'), 'values must not contain NUL bytes'),
      )
      .optional(),
    workdir: z
      .string()
      .startsWith('/', 'must be an absolute path')
      .refine((v) => !v.includes('\0'), 'must not contain NUL bytes')
      .optional(),
    stdin: z.union([z.string(), z.instanceof(Buffer)]).optional(),
    timeoutMs: z.number().int().positive('must be > 0').optional(),
    /** Run a shell string in a clean process instead of the task's persistent session. */
    fresh: z.boolean().optional(),
    agentId: z.string().min(1).optional(),
  })
  .strict();

/** A command: an argv array (no shell), or a string / `{shell}` run by `/bin/sh -c`, explicitly. */
export type ExecInput = Omit<z.input<typeof execInputSchema>, 'command'> & {
  command: string[] | string | { shell: string };
};

/** Validates a command, saying exactly what is wrong with it. */
export function commandOf(c: unknown): string[] | { shell: string } {
  const bad = (msg: string) => new ValidationError('command', msg);
  if (Array.isArray(c)) {
    if (!c.length)
      throw bad('must not be empty; give the program and its arguments, e.g. ["ls", "-la"]');
    if (!c.every((a) => typeof a === 'string')) throw bad('every argument must be a string');
    if (!(c[0] as string).trim()) throw bad('the program name (first item) must not be empty');
    return c as string[];
  }
  const shell = typeof c === 'string' ? c : (c as { shell?: unknown } | null)?.shell;
  if (typeof shell === 'string') {
    if (!shell.trim())
      throw bad('must not be empty; give a shell script such as "make && make test"');
    return { shell };
  }
  throw bad('is required: an argv array such as ["ls", "-la"], or a shell string');
}
export type SandboxExecResult = ExecResult & { executionId: string; taskId: string };

/** A command started by `SandboxService.startExec`. */
export interface StartedSandboxExec {
  executionId: string;
  taskId: string;
  agentId?: string;
  command: string | string[];
  startedAt: string;
  timeoutMs: number;
  started: StartedExec;
  done: Promise<SandboxExecResult>;
}

export interface SandboxStatus {
  taskId: string;
  sandbox: SandboxInfo | null;
  stats?: SandboxStats;
  /** Set when the sandbox lives on another orchestrator's engine (`sandbox` is then null). */
  elsewhere?: EngineRef & { instanceId: string };
}

/**
 * Task sandboxes: provisioning from a task's spec (validated against operator maximums), lifecycle,
 * exec and file operations. Adapter-agnostic: everything goes through the `SandboxRuntime` port.
 * @example
 * const r = await sandboxes.exec(task.id, { command: ['npm', 'test'], timeoutMs: 120_000 });
 * if (r.timedOut || r.exitCode !== 0) console.log(r.stderr);
 */
@Injectable()
export class SandboxService {
  private readonly logger = new Logger('Sandboxes');

  constructor(
    @Inject(SANDBOX_RUNTIME) readonly runtime: SandboxRuntime,
    @Inject(OPENCODE_OPTIONS) private readonly options: OpenCodeToolsOptions,
    @Inject(TASK_REPOSITORY) private readonly tasks: TaskRepository,
    private readonly events: EventEmitter2,
    @Optional() private readonly attachments?: AgentAttachmentService,
    @Optional() private readonly journal?: ExecutionsService,
    @Optional() private readonly alerts?: SandboxAlerts,
    @Optional() private readonly placement?: SandboxPlacementService,
    @Optional() private readonly sessionStates?: SessionStateService,
  ) {}

  /** What runs shell-string commands (OPENCODE_SANDBOX_SHELL), in words for tool descriptions. */
  get shellDescription(): string {
    return {
      sh: "the image's /bin/sh (POSIX sh; dash on Debian and Ubuntu images: no [[ ]], arrays or source, call bash -c for those)",
      bash: 'bash',
      auto: "bash where the image has it, else the image's /bin/sh",
    }[this.options.sandbox.shell];
  }

  /** Validates the task's spec, then creates and starts its sandbox (pulling the image if needed). */
  async provision(task: Task, onProgress?: PullProgressListener): Promise<SandboxInfo> {
    const config = resolveSandboxConfig(task.id, task.sandbox, this.options);
    const progress: PullProgressListener = (p) => {
      onProgress?.(p);
      this.events.emit(SANDBOX_EVENTS.pullProgress, {
        taskId: task.id,
        ...p,
      } satisfies SandboxPullEvent);
    };
    await this.runtime.create(config, progress);
    try {
      const info = await this.runtime.start(task.id);
      await this.placement?.record(task.id);
      return info;
    } catch (err) {
      await this.runtime.remove(task.id).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Starts the task's sandbox, re-creating the container if it vanished (the workspace survives).
   * Null when the sandbox lives on another host's engine: that host's reconciler starts it.
   */
  async ensureRunning(task: Task): Promise<SandboxInfo | null> {
    const info = await this.runtime.inspect(task.id);
    if (!info && this.placement && !(await this.placement.isHere(task.id))) {
      this.logger.log(
        `task ${task.id}: its sandbox is on another host's engine; that host starts it`,
      );
      return null;
    }
    if (!info) {
      this.logger.warn(`sandbox of task ${task.id} is gone; re-creating it (workspace kept)`);
      return this.provision(task);
    }
    if (info.state === 'running') return info;
    if (info.state === 'dead') {
      await this.runtime.remove(task.id, { keepVolume: true });
      return this.provision(task);
    }
    return this.runtime.start(task.id);
  }

  /** Stops the sandbox (SIGTERM, SIGKILL after the grace period); a missing one is fine. */
  async stop(taskId: string): Promise<SandboxInfo | null> {
    const info = await this.runtime.inspect(taskId);
    if (!info) return null;
    return this.runtime.stop(taskId, this.options.sandbox.stopGraceMs);
  }

  pause(taskId: string): Promise<SandboxInfo> {
    return this.runtime.pause(taskId);
  }

  unpause(taskId: string): Promise<SandboxInfo> {
    return this.runtime.unpause(taskId);
  }

  /**
   * Removes container, network and volume, and forgets where they were and the session state
   * (directory, exports) its commands left. Idempotent.
   */
  async remove(taskId: string): Promise<SandboxResource[]> {
    const removed = await this.runtime.remove(taskId);
    await this.placement?.forget(taskId);
    await this.sessionStates?.forget(taskId);
    return removed;
  }

  async status(taskId: string, opts: { stats?: boolean } = {}): Promise<SandboxStatus> {
    const sandbox = await this.runtime.inspect(taskId);
    if (!sandbox && this.placement && !(await this.placement.isHere(taskId))) {
      return { taskId, sandbox: null, elsewhere: (await this.placement.where(taskId))! };
    }
    const status: SandboxStatus = { taskId, sandbox };
    if (opts.stats && sandbox?.state === 'running') {
      status.stats = await this.runtime.stats(taskId);
    }
    return status;
  }

  /** Runs a command in the task's sandbox; output is capped per stream and optionally streamed. */
  async exec(
    taskId: string,
    input: ExecInput,
    onOutput?: ExecOutputListener,
    signal?: AbortSignal,
  ): Promise<SandboxExecResult> {
    return (await this.startExec(taskId, input, onOutput, { signal })).done;
  }

  /**
   * Starts a command and returns once it runs; `done` settles with the result after it was
   * journaled and published. A result marked `detached` (this process lost the connection while
   * the command ran on) is not journaled: whoever re-attaches finishes the record.
   */
  async startExec(
    taskId: string,
    input: ExecInput,
    onOutput?: ExecOutputListener,
    opts: { executionId?: string; signal?: AbortSignal } = {},
  ): Promise<StartedSandboxExec> {
    const command = commandOf((input as { command?: unknown })?.command);
    const data = parseOrThrow(execInputSchema, input);
    const o = this.options.sandbox;
    const timeoutMs = data.timeoutMs ?? o.execTimeoutMs;
    if (timeoutMs > o.execTimeoutMaxMs) {
      throw new ValidationError(
        'timeoutMs',
        `${timeoutMs}ms is above the operator maximum ${o.execTimeoutMaxMs}ms (OPENCODE_EXEC_TIMEOUT_MAX)`,
      );
    }
    // A session command starts from the state another process may have left: read beside the
    // task lookup (one indexed read), so it adds no round trip of its own.
    const session = !Array.isArray(command) && !data.fresh;
    const [, sessionState] = await Promise.all([
      this.liveTask(taskId, data.agentId),
      session ? this.sessionStates?.load(taskId) : undefined,
    ]);
    const executionId = opts.executionId ?? newId('exe');
    const startedAt = new Date().toISOString();
    const started = await this.located(taskId, () =>
      this.runtime.startExec(
        taskId,
        {
          command,
          env: data.env,
          workdir: data.workdir,
          stdin: data.stdin,
          timeoutMs,
          outputCapBytes: o.outputCapBytes,
          signal: opts.signal,
          fresh: data.fresh,
          sessionState,
        },
        onOutput,
      ),
    );
    const done = started.result.then(async (result) => {
      // Before the reply: an answer means the state it left is stored (one write, only on change).
      await this.sessionStates?.save(taskId, started.sessionState?.());
      if (result.detached) return { ...result, executionId, taskId };
      const event: SandboxExecEvent = {
        taskId,
        agentId: data.agentId,
        executionId,
        command,
        result,
      };
      this.events.emit(SANDBOX_EVENTS.exec, event);
      await this.record(event, startedAt, session);
      if (result.oomKilled) {
        await this.alerts?.raise({
          kind: 'oomKilled',
          taskId,
          message: `a command in the sandbox of task ${taskId} was killed for using more than its memory limit`,
          at: new Date().toISOString(),
        });
      }
      return { ...result, executionId, taskId };
    });
    return {
      executionId,
      taskId,
      agentId: data.agentId,
      command: Array.isArray(command) ? command : command.shell,
      startedAt,
      timeoutMs,
      started,
      done,
    };
  }

  /** Journals a command a restarted process finished reading (see LiveExecutionsService). */
  async recordRecovered(e: SandboxExecEvent, startedAt: string): Promise<void> {
    this.events.emit(SANDBOX_EVENTS.exec, e);
    await this.record(e, startedAt);
  }

  async readFile(taskId: string, path: string, opts: { agentId?: string } = {}): Promise<Buffer> {
    const p = sandboxPath(path);
    await this.liveTask(taskId, opts.agentId);
    return this.located(taskId, () =>
      this.runtime.readFile(taskId, p, this.options.sandbox.fileMaxBytes),
    );
  }

  async writeFile(
    taskId: string,
    path: string,
    content: string | Buffer,
    opts: { agentId?: string } = {},
  ): Promise<void> {
    const p = sandboxPath(path);
    const buf = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
    const max = this.options.sandbox.fileMaxBytes;
    if (buf.length > max) {
      throw new ValidationError(
        'content',
        `is ${buf.length} bytes, over the ${max}-byte limit (OPENCODE_SANDBOX_FILE_MAX)`,
      );
    }
    await this.liveTask(taskId, opts.agentId);
    await this.located(taskId, () => this.runtime.writeFile(taskId, p, buf));
  }

  /**
   * Journals the execution; a journal failure is logged, never loses the result. `taskChecked`: a
   * session command this process started after checking the task. Deleting a task closes its
   * sessions first, which ends such a command at once as `detached` (not journaled), so the task
   * need not be looked up again. A `docker exec` (argv, `fresh`) ends only when its container is
   * gone, possibly after the task row: it is looked up, as is a recovered execution.
   */
  private async record(e: SandboxExecEvent, startedAt: string, taskChecked = false): Promise<void> {
    if (!this.journal) return;
    const r = e.result;
    try {
      await this.journal.recordRun(
        {
          id: e.executionId,
          taskId: e.taskId,
          agentId: e.agentId,
          command: Array.isArray(e.command) ? e.command : e.command.shell,
          startedAt,
          durationMs: r.durationMs,
          exitCode: r.exitCode,
          timedOut: r.timedOut,
          truncated: r.truncated,
          stdoutBytes: r.stdoutBytes,
          stderrBytes: r.stderrBytes,
          ...excerpts(r.stdout, r.stderr),
        },
        { taskChecked },
      );
    } catch (err) {
      this.logger.warn(`could not journal execution ${e.executionId}: ${(err as Error).message}`);
    }
  }

  /** Throws unless the task is live with a sandbox and the agent (if given) is attached. */
  async assertCanAct(taskId: string, agentId?: string): Promise<void> {
    await this.liveTask(taskId, agentId);
  }

  /** The task, which must exist, be unfinished and have a sandbox; and the agent attached. */
  private async liveTask(taskId: string, agentId?: string): Promise<Task> {
    const id = parseOrThrow(TASK_ID, taskId, 'taskId');
    const task = await this.tasks.findById(id);
    if (!task) throw new NotFoundError('task', id);
    if (!task.sandbox) {
      throw new DomainError(
        'NOT_FOUND',
        `task ${id} has no sandbox; create the task with a sandbox (create-task --image …)`,
        { kind: 'sandbox', id },
      );
    }
    if (isTerminal(task.status)) {
      throw new DomainError(
        'ILLEGAL_TRANSITION',
        `task ${id} is ${task.status}; its sandbox is stopped and takes no more commands`,
        { taskId: id, status: task.status },
      );
    }
    if (agentId && this.attachments) await this.attachments.assertAttached(id, agentId);
    return task;
  }

  /**
   * Runs a call that needs the container. A container this engine does not have may live on
   * another host's engine: then the error names that host (checked only on this path, so calls
   * that find their container pay nothing for it).
   */
  private async located<T>(taskId: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      const e = err as DomainError;
      if (this.placement && e?.code === 'NOT_FOUND' && e.details?.kind === 'sandbox') {
        await this.placement.assertHere(taskId);
      }
      throw err;
    }
  }
}

/** Journal excerpts: at most ~60 KiB of head and of tail per stream. */
const EXCERPT = 60 * 1024;
function excerpts(stdout: string, stderr: string) {
  const [stdoutHead, stdoutTail] = headAndTail(stdout);
  const [stderrHead, stderrTail] = headAndTail(stderr);
  return { stdoutHead, stdoutTail, stderrHead, stderrTail };
}
function headAndTail(text: string): [string, string] {
  const b = utf8IfOver(text, EXCERPT);
  if (!b) return [text, ''];
  return [
    b.subarray(0, EXCERPT - 4).toString('utf8'),
    b.subarray(b.length - EXCERPT + 4).toString('utf8'),
  ];
}
