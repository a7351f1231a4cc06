import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import type { SandboxShell } from '../../config/sandbox-options';
import type {
  ExecOutputListener,
  ExecRequest,
  SessionStateChange,
  StartedExec,
} from '../../ports/sandbox-runtime.port';
import { ExecSession, type SessionOpenOptions, type SessionState } from './exec-session';
import { exportedNames, LOG_FILE_MAX_BYTES, posixExports } from './session-protocol';

/** Default of `OPENCODE_EXEC_SESSIONS`: concurrent shell sessions per task. */
export const DEFAULT_SESSIONS_PER_TASK = 4;
/** A session whose logs in the sandbox grew past this is retired once idle (logs removed). */
export const SESSION_LOG_MAX_BYTES = 64 * 1024 * 1024;

type Log = (message: string) => void;

/** Pauses before each new try of a session whose shell could not fork (ms; ~2 s in all). */
const FORK_RETRY_MS = [100, 200, 400, 600, 800];
const CANNOT_FORK = /can't fork|cannot fork|fork: .*Resource temporarily unavailable/i;

/**
 * Opens a session, trying again while its shell cannot fork: the sandbox is at its pids limit,
 * as right after a timeout killed a fork bomb, until the killed processes are reaped. Any other
 * failure, or the same one after ~2 s, is thrown as it is.
 */
export async function openRetryingFork(
  open: () => Promise<ExecSession>,
  pauses: readonly number[] = FORK_RETRY_MS,
): Promise<ExecSession> {
  for (let i = 0; ; i++) {
    try {
      return await open();
    } catch (err) {
      if (i >= pauses.length || !CANNOT_FORK.test((err as Error).message)) throw err;
      await sleep(pauses[i]);
    }
  }
}

/** The sessions of one task, and the environment and directory their commands share. */
class TaskSessions {
  readonly sessions: ExecSession[] = [];
  private opening = 0;
  private readonly waiters: (() => void)[] = [];
  state?: SessionState;
  /** When the command that left `state` finished (epoch ms; a seed's own time). */
  stateAt = 0;

  constructor(
    private readonly max: number,
    private readonly open: () => Promise<ExecSession>,
    private readonly log: Log,
    /** A log file (per stream) past this retires its session once idle: half its cap. */
    private readonly retireAt: number,
  ) {}

  async acquire(): Promise<ExecSession> {
    for (;;) {
      const idle = this.sessions.find((s) => s.alive && !s.busy);
      if (idle) {
        idle.busy = true;
        return idle;
      }
      if (this.sessions.length + this.opening < this.max) {
        this.opening++;
        try {
          const s = await this.open();
          s.busy = true;
          s.onDeath((why) => {
            this.log(
              `exec session (shell pid ${s.shellPid}) ended: ${why}; the next command opens a new one`,
            );
            this.drop(s);
          });
          this.sessions.push(s);
          return s;
        } finally {
          this.opening--;
        }
      }
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  release(s: ExecSession): void {
    s.busy = false;
    // Logs past their bound are removed with their session: each command starts with room in
    // its log (a capped log keeps nothing more, its commands' ends included).
    const big = s.outBytes + s.errBytes > SESSION_LOG_MAX_BYTES;
    if (s.alive && (big || Math.max(s.outBytes, s.errBytes) > this.retireAt)) {
      s.retire();
    }
    if (!s.alive) this.drop(s);
    this.waiters.shift()?.();
  }

  private drop(s: ExecSession): void {
    const i = this.sessions.indexOf(s);
    if (i >= 0) this.sessions.splice(i, 1);
    this.waiters.shift()?.();
  }

  closeAll(): void {
    for (const s of this.sessions.splice(0)) {
      if (s.busy) s.close();
      else s.retire();
    }
    for (const w of this.waiters.splice(0)) w();
  }
}

/**
 * Persistent exec sessions of every task this runtime serves (see README "Exec sessions").
 * Shell-string commands of a task run in one of at most `maxPerTask` sessions; more concurrent
 * calls wait in FIFO order for a free one. Every command starts from the directory and exported
 * environment the task's previous command left (the last one to finish wins). The state lives in
 * this process; a command reports the state it left when it changed it (`sessionState()`), and a
 * request may carry a newer one another process left (`ExecRequest.sessionState`): the Docker
 * module persists and passes them, so the state survives a restart and is shared by instances.
 */
export class SessionPool {
  private readonly tasks = new Map<string, TaskSessions>();

  /** Whether the task has a session whose shell is alive (so its container runs). */
  hasLive(taskId: string): boolean {
    return !!this.tasks.get(taskId)?.sessions.some((s) => s.alive);
  }

  /** 0 sessions per task turns sessions off: every command is a `docker exec`. */
  get enabled(): boolean {
    return this.maxPerTask > 0;
  }

  constructor(
    private readonly maxPerTask: number,
    private readonly log: Log,
    private readonly shell: SandboxShell = 'sh',
    /** Largest session log file per stream (OPENCODE_EXEC_LOG_MAX). */
    private readonly logMaxBytes = LOG_FILE_MAX_BYTES,
    /** The session FIFOs a task's new sessions try first (none: the attach stream). */
    private readonly ioFor: (taskId: string) => Promise<SessionOpenOptions['io']> = async () =>
      undefined,
  ) {}

  async start(
    taskId: string,
    container: Docker.Container,
    req: ExecRequest & { command: { shell: string } },
    onOutput?: ExecOutputListener,
  ): Promise<StartedExec> {
    let t = this.tasks.get(taskId);
    if (!t) {
      t = new TaskSessions(
        this.maxPerTask,
        () =>
          openRetryingFork(async () =>
            ExecSession.open(container, {
              shell: this.shell,
              logMaxBytes: this.logMaxBytes,
              io: await this.ioFor(taskId),
            }),
          ),
        this.log,
        this.logMaxBytes / 2,
      );
      this.tasks.set(taskId, t);
    }
    // Before waiting for a session: a command that finishes meanwhile is newer and wins over it.
    const seed = req.sessionState;
    if (seed && (!t.state || seed.finishedAt > t.stateAt)) {
      // A state stored before bash's `$'…'` values were rewritten gets the same rewriting.
      const text = posixExports(seed.text);
      t.state = { text, names: new Set(exportedNames(text)) };
      t.stateAt = seed.finishedAt;
    }
    const session = await t.acquire();
    let cmd;
    try {
      cmd = session.start(req, t.state, onOutput);
    } catch (err) {
      t.release(session);
      throw err;
    }
    const tasks = t;
    let left: SessionStateChange | undefined;
    const result = cmd.finished
      .then(({ result, state }) => {
        if (state) {
          if (state.text !== tasks.state?.text) {
            // Strictly newer than whatever it replaces, even if a seed came from a clock ahead.
            tasks.stateAt = Math.max(Date.now(), tasks.stateAt + 1);
            left = { text: state.text, finishedAt: tasks.stateAt };
          }
          tasks.state = state;
        }
        return result;
      })
      .finally(() => tasks.release(session));
    return {
      session: cmd.info,
      pid: cmd.pid,
      kill: cmd.kill,
      result,
      sessionState: () => left,
    };
  }

  /** Closes a task's sessions (sandbox stopped, removed or restarted); its state is kept. */
  closeTask(taskId: string, opts: { forget?: boolean } = {}): void {
    this.tasks.get(taskId)?.closeAll();
    if (opts.forget) this.tasks.delete(taskId);
  }

  closeAll(): void {
    for (const t of this.tasks.values()) t.closeAll();
    this.tasks.clear();
  }
}
