import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { OPENCODE_OPTIONS, type OpenCodeToolsOptions } from '../../config/options';
import { BoundedKeep } from '../../domain/bounded-keep';
import { CappedOutput } from '../../domain/capped-output';
import { DomainError, NotFoundError, ValidationError } from '../../domain/errors';
import type { ExecutionRecord } from '../../domain/execution';
import { newId } from '../../domain/ids';
import { OutputLog } from '../../domain/output-log';
import { ownerAlive, ownerHere, processOwner } from '../../domain/process-owner';
import { within } from '../../domain/within';
import {
  RUNTIME_RECORD_STORE,
  type RuntimeRecord,
  type RuntimeRecordStore,
} from '../../ports/runtime-record-store.port';
import {
  SANDBOX_RUNTIME,
  type ExecOutputListener,
  type ExecResult,
  type SandboxRuntime,
  type SessionCommandInfo,
  type SessionOutputTail,
} from '../../ports/sandbox-runtime.port';
import { ExecutionsService } from '../history/executions.service';
import { SandboxPlacementService } from './sandbox-placement.service';
import {
  SandboxService,
  type ExecInput,
  type SandboxExecResult,
  type StartedSandboxExec,
} from './sandbox.service';

const KIND = 'execution';
/** Per stream, what `exec_poll` can still serve of a command this process runs. */
const POLL_BUFFER_BYTES = 8 * 1024 * 1024;
/**
 * How long, how many and how much output of the executions it ran and saw end a process keeps in
 * memory for `exec_poll` / `exec_wait` / `exec_kill` (the oldest go first; others are answered
 * from the journal and runtime records, as in any other process).
 */
export const KEEP_FINISHED = { ttlMs: 10 * 60_000, maxEntries: 1000, maxBytes: 64 * 1024 * 1024 };
/** Most log bytes read back from the sandbox per stream when re-attaching. */
const RECOVER_READ_MAX = 16 * 1024 * 1024;
const RECOVER_POLL_MS = 250;
/**
 * A command still running this long after its start gets its runtime record (before its answer,
 * at the yield window, if that comes first): from then on its deadline holds even if this process
 * dies (the sweep of any server kills it), and a restarted server journals its end. Shorter
 * commands cost no database write.
 */
export const RECORD_AFTER_MS = 500;
/** A `starting` record older than this never got its command started (the process died). */
const STARTING_STALE_MS = 30_000;
/**
 * The sweep kills a command no process of ours runs this long after its deadline: the process
 * that runs a command kills it at the deadline itself, so another instance only steps in once
 * that process evidently did not (it died, or was restarted).
 */
export const DEADLINE_GRACE_MS = 2_000;
/**
 * A command whose owner (the process running it, `host:pid` in its record) is alive on this host
 * is left to that owner, which kills it at its deadline itself (that can take a while: a kill
 * retried at the pids limit). Past this much after the deadline the sweep steps in anyway (a
 * reused pid, an owner that lost the command). An owner on another host gets only
 * {@link DEADLINE_GRACE_MS}: this host cannot tell whether it lives.
 */
export const LIVE_OWNER_GRACE_MS = 60_000;
/** Longest pause between two sweeps (new records of dead processes are found within it). */
const SWEEP_MAX_MS = 60_000;
/** While a killed command has not reported its end, the sweep looks again this often. */
const SWEEP_RETRY_MS = 500;
/** Finished records past the key TTL are purged at most this often (and at the first sweep). */
const PURGE_EVERY_MS = 10 * 60_000;

export type ExecStatus = 'running' | 'completed' | 'lost';

/** What one sweep did (see {@link LiveExecutionsService.sweep}). */
export interface SweepReport {
  /** Executions killed at their deadline (no process of ours was running them). */
  killed: string[];
  /** Executions found ended (journaled, record completed) or lost. */
  finished: string[];
  /** Finished records removed because their key TTL passed. */
  purged: number;
}

/** An execution as execute_in_task / exec_wait / exec_kill return it. */
export interface ExecView extends Omit<SandboxExecResult, 'detached'> {
  status: ExecStatus;
  /** The call replayed an earlier one with the same idempotency key. */
  replayed?: boolean;
}

/** What exec_poll returns: the output from the given offsets on. */
export interface PollView {
  executionId: string;
  taskId: string;
  status: ExecStatus;
  exitCode: number | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  /** Pass these back as the next offsets. */
  stdoutOffset: number;
  stderrOffset: number;
  /** Bytes between the asked offset and the first one still available (dropped from memory). */
  stdoutSkipped: number;
  stderrSkipped: number;
  stdoutBytes: number;
  stderrBytes: number;
}

export interface RunInput extends ExecInput {
  /** Answer `running` after this long (default OPENCODE_EXEC_YIELD); 0 answers at once. */
  yieldMs?: number;
  /** A replay with the same key (per task) returns the first call's execution. */
  idempotencyKey?: string;
}

interface RecordData {
  command: string | string[];
  agentId?: string;
  startedAt: string;
  timeoutMs: number;
  deadline: number;
  session?: SessionCommandInfo;
  pid?: number;
  timedOut?: boolean;
  killed?: boolean;
  result?: Omit<ExecResult, 'stdout' | 'stderr'>;
  /** The process running it (`host:pid`); absent in records of earlier versions. */
  owner?: string;
}

interface Live {
  s: StartedSandboxExec;
  out: OutputLog;
  err: OutputLog;
  capOut: CappedOutput;
  capErr: CappedOutput;
  result?: SandboxExecResult;
  /** Record writes of this execution, in order. */
  chain: Promise<unknown>;
  recorded: boolean;
  /** Keyed (its record was written at the start). */
  keyed: boolean;
  /** Answered `running`: its caller continues it by id, from any process. */
  answered?: boolean;
  /** This process lost the connection while the command ran on (see SandboxService.startExec). */
  detached?: boolean;
}

/** A finished execution as kept after its end: its answer and the output poll can page. */
interface Kept {
  view: ExecView;
  out: OutputLog;
  err: OutputLog;
}

/** A result without its output (records keep no output: the sandbox logs and journal do). */
function summary(r: ExecResult): Omit<ExecResult, 'stdout' | 'stderr'> {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { stdout, stderr, ...rest } = r;
  return rest;
}

/** A call cancelled (its signal aborted) before its command started: nothing ran. */
export class CancelledError extends Error {
  constructor() {
    super('cancelled before the command started');
    this.name = 'CancelledError';
  }
}

/** Rejects with {@link CancelledError} once `signal` aborts (never without a signal). */
function cancelled(signal?: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal?.aborted) reject(new CancelledError());
    else signal?.addEventListener('abort', () => reject(new CancelledError()), { once: true });
  });
}

/** Not unref'd: a CLI process waiting on nothing else must stay alive until it fires. */
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Executions an agent can re-attach to (README "Re-attachable executions"). A command still
 * running after the yield window is answered `running` with its output so far and goes on;
 * `poll`, `wait` and `kill` continue it — from memory while this process runs it, otherwise (a
 * reconnect to another instance, a restart) from the runtime record in the database and the
 * session logs in the sandbox, which hold its output and end as they arrive.
 */
@Injectable()
export class LiveExecutionsService implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('Executions');
  /** Executions this process runs (until they end). */
  private readonly live = new Map<string, Live>();
  /** Executions this process ran, once ended (see {@link KEEP_FINISHED}). */
  private readonly kept = new BoundedKeep<Kept>(KEEP_FINISHED);
  private sweepTimer?: NodeJS.Timeout;
  private sweeping?: Promise<SweepReport>;
  private lastPurge = 0;
  private timerOn = false;
  /** Record writes not yet done (see {@link flush}). */
  private readonly pending = new Set<Promise<unknown>>();
  private readonly owner = processOwner();

  constructor(
    private readonly sandboxes: SandboxService,
    @Inject(SANDBOX_RUNTIME) private readonly runtime: SandboxRuntime,
    @Inject(RUNTIME_RECORD_STORE) private readonly records: RuntimeRecordStore,
    @Inject(OPENCODE_OPTIONS) private readonly options: OpenCodeToolsOptions,
    @Optional() private readonly journal?: ExecutionsService,
    @Optional() private readonly placement?: SandboxPlacementService,
  ) {}

  /** Runs a command; cancelling `signal` before the answer kills it. */
  async run(
    taskId: string,
    input: RunInput,
    onOutput?: ExecOutputListener,
    signal?: AbortSignal,
  ): Promise<ExecView> {
    const { yieldMs: y, idempotencyKey: key, ...exec } = input;
    const yieldMs = y ?? this.options.sandbox.execYieldMs;
    if (!Number.isInteger(yieldMs) || yieldMs < 0) {
      throw new ValidationError('yieldMs', 'must be a whole number of milliseconds >= 0');
    }
    let id = newId('exe');
    const now = new Date().toISOString();
    if (key !== undefined) {
      if (!key.trim() || key.length > 200) {
        throw new ValidationError('idempotencyKey', 'must be 1 to 200 characters');
      }
      const claim = () =>
        this.records.insert({
          kind: KIND,
          id,
          taskId,
          key: `${taskId}:${key}`,
          status: 'starting',
          data: { command: [], startedAt: now, timeoutMs: 0, deadline: 0 } satisfies RecordData,
          updatedAt: now,
        });
      let ins = await claim();
      if (!ins.created && this.keyExpired(ins.record)) {
        // The key outlived OPENCODE_EXEC_KEY_TTL: the command runs anew (the old execution stays
        // in the journal). Two replays racing here still run it once: the insert is atomic.
        await this.records.delete(KIND, ins.record.id);
        ins = await claim();
      }
      if (!ins.created) {
        // Cancelling stops the wait only: the execution is the first call's, and goes on.
        const v = await Promise.race([this.wait(ins.record.id, yieldMs), cancelled(signal)]);
        return { ...v, replayed: true };
      }
      id = ins.record.id;
    }
    if (signal?.aborted) {
      if (key !== undefined) await this.records.delete(KIND, id).catch(() => undefined);
      throw new CancelledError();
    }
    const out = new OutputLog(POLL_BUFFER_BYTES);
    const err = new OutputLog(POLL_BUFFER_BYTES);
    const cap = this.options.sandbox.outputCapBytes;
    const capOut = new CappedOutput(cap);
    const capErr = new CappedOutput(cap);
    let s: StartedSandboxExec;
    try {
      s = await this.sandboxes.startExec(
        taskId,
        exec,
        (stream, chunk) => {
          (stream === 'stdout' ? out : err).push(chunk);
          (stream === 'stdout' ? capOut : capErr).push(chunk);
          onOutput?.(stream, chunk);
        },
        { executionId: id },
      );
    } catch (e) {
      if (key !== undefined) await this.records.delete(KIND, id).catch(() => undefined);
      throw e;
    }
    const l: Live = {
      s,
      out,
      err,
      capOut,
      capErr,
      chain: Promise.resolve(),
      recorded: false,
      keyed: key !== undefined,
    };
    this.live.set(id, l);
    if (key !== undefined) {
      l.recorded = true;
      await this.write(l, (r) => this.save(r.s.executionId, 'running', this.dataOf(r)));
    }
    void s.done.then(
      (r) => this.finished(l, r),
      (e: Error) => this.logger.warn(`execution ${id} failed: ${e.message}`),
    );
    const early = setTimeout(() => void this.record(l), Math.min(yieldMs, RECORD_AFTER_MS));
    early.unref();
    // Recorded at once too: should this process die before the kill lands, a sweep still ends
    // the command at its deadline.
    const onAbort = () => {
      void this.record(l);
      void s.started.kill().catch(() => undefined);
    };
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort);
    try {
      await within(s.done, yieldMs, undefined);
    } finally {
      clearTimeout(early);
      signal?.removeEventListener('abort', onAbort);
    }
    if (!l.result) {
      // Still running after the yield window, or detached (this process lost the session while
      // it ran on): continued through its record, by poll, wait and the sweep of any process.
      l.answered = true;
      await this.record(l);
      if (l.detached) this.live.delete(id);
    }
    return this.viewOf(l);
  }

  /**
   * Writes the record of a running execution (once; see {@link RECORD_AFTER_MS}) and resolves
   * when every record write so far is done.
   */
  private record(l: Live): Promise<unknown> {
    if (l.recorded || l.result) return l.chain;
    l.recorded = true;
    const id = l.s.executionId;
    return this.write(l, (r) =>
      this.records
        .insert({
          kind: KIND,
          id,
          taskId: r.s.taskId,
          status: 'running',
          data: this.dataOf(r) as unknown as Record<string, unknown>,
          updatedAt: new Date().toISOString(),
        })
        .catch(() => this.save(id, 'running', this.dataOf(r))),
    );
  }

  /** Waits up to `timeoutMs` for the end; answers `running` with the output so far otherwise. */
  async wait(executionId: string, timeoutMs: number): Promise<ExecView> {
    const l = this.live.get(executionId);
    if (l) {
      if (!l.result) await within(l.s.done, timeoutMs, undefined);
      return this.viewOf(l);
    }
    const k = this.kept.get(executionId);
    if (k) return { ...k.view };
    const until = Date.now() + timeoutMs;
    for (;;) {
      const v = await this.recovered(executionId, this.viewReadMax());
      if (v.status !== 'running' || Date.now() >= until) return v.view;
      await sleep(Math.min(RECOVER_POLL_MS, Math.max(0, until - Date.now())));
    }
  }

  /** Output from the given byte offsets on (at most `maxBytes` per stream), and the status. */
  async poll(
    executionId: string,
    at: { stdoutOffset?: number; stderrOffset?: number; maxBytes: number },
  ): Promise<PollView> {
    const so = at.stdoutOffset ?? 0;
    const eo = at.stderrOffset ?? 0;
    const l = this.live.get(executionId) ?? this.kept.get(executionId);
    if (l) {
      const o = l.out.read(so, at.maxBytes);
      const e = l.err.read(eo, at.maxBytes);
      return this.pollView('view' in l ? l.view : this.viewOf(l), o, e);
    }
    // Read back only as far as this poll reaches (and what its answer's view shows).
    const reach = Math.max(so, eo) + at.maxBytes;
    const rec = await this.recovered(executionId, Math.max(this.viewReadMax(), reach));
    const slice = (b: Buffer, off: number) => {
      const data = b.subarray(off, off + at.maxBytes);
      return { data, next: off + data.length, skipped: 0 };
    };
    return this.pollView(rec.view, slice(rec.stdout, so), slice(rec.stderr, eo));
  }

  /** Kills a running execution (its process group and everything it started). */
  async kill(executionId: string, opts: { agentId?: string } = {}): Promise<ExecView> {
    const l = this.live.get(executionId);
    if (l) {
      await this.sandboxes.assertCanAct(l.s.taskId, opts.agentId);
      if (!l.result) {
        await l.s.started.kill();
        await within(l.s.done, 5000, undefined);
      }
      return this.viewOf(l);
    }
    const k = this.kept.get(executionId);
    if (k) {
      await this.sandboxes.assertCanAct(k.view.taskId, opts.agentId);
      return { ...k.view };
    }
    const rec = await this.mustRecord(executionId);
    await this.sandboxes.assertCanAct(rec.taskId!, opts.agentId);
    const data = rec.data as unknown as RecordData;
    if (rec.status === 'running' && data.session) {
      const logs = await this.runtime
        .readSessionOutput(rec.taskId!, data.session, 1024)
        .catch(() => undefined);
      await this.runtime.killSessionCommand(rec.taskId!, data.session, logs?.pid ?? data.pid);
      await this.save(executionId, 'running', { ...data, killed: true });
    }
    return this.wait(executionId, 5000);
  }

  /**
   * Server processes (`serve`, `mcp`): a sweep now, then one at the next deadline of a command no
   * process of ours runs (and at least every minute), so that such a command is killed at its
   * `timeoutMs` even when nobody polls it, and finished records past the key TTL are purged.
   */
  startTimer(): void {
    this.timerOn = true;
    this.runSweep();
  }

  stopTimer(): void {
    this.timerOn = false;
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  onApplicationShutdown(): void {
    this.stopTimer();
  }

  private runSweep(): void {
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    void this.sweep()
      .catch((e: Error) => {
        this.logger.warn(`execution sweep failed: ${e.message}`);
        return { next: Date.now() + SWEEP_MAX_MS };
      })
      .then((r) => {
        if (!this.timerOn) return;
        const next = (r as { next?: number }).next ?? Date.now() + SWEEP_MAX_MS;
        this.sweepTimer = setTimeout(() => this.runSweep(), Math.max(0, next - Date.now()));
        this.sweepTimer.unref();
      });
  }

  /**
   * One pass over the executions no process of ours is running (concurrent callers share it):
   * one past its deadline (plus {@link DEADLINE_GRACE_MS}) is killed, one found ended is journaled
   * and its record completed, a `starting` one whose process died is marked lost; finished records
   * whose key TTL passed are removed. `next` is when the next pass is due.
   */
  sweep(): Promise<SweepReport & { next: number }> {
    this.sweeping ??= this.sweepOnce().finally(() => (this.sweeping = undefined));
    return this.sweeping as Promise<SweepReport & { next: number }>;
  }

  private async sweepOnce(): Promise<SweepReport & { next: number }> {
    const report: SweepReport & { next: number } = {
      killed: [],
      finished: [],
      purged: 0,
      next: Date.now() + SWEEP_MAX_MS,
    };
    const due = (at: number) => (report.next = Math.min(report.next, at));
    for (const rec of await this.records.list(KIND, { status: ['running', 'starting'] })) {
      // This process runs it (its own timer kills it), or ran it and marks its record.
      if (this.live.has(rec.id) || this.kept.has(rec.id)) continue;
      // A command in a sandbox on another host's engine is that host's to sweep.
      if (rec.taskId && this.placement && !(await this.placement.isHere(rec.taskId))) continue;
      const data = rec.data as unknown as RecordData;
      const now = Date.now();
      if (rec.status === 'starting') {
        const stale = Date.parse(rec.updatedAt) + STARTING_STALE_MS;
        if (now < stale) {
          due(stale);
          continue;
        }
      } else if (!data.timedOut && !data.killed) {
        if (now < data.deadline + DEADLINE_GRACE_MS) {
          due(data.deadline + DEADLINE_GRACE_MS);
          continue;
        }
        if (now < data.deadline + LIVE_OWNER_GRACE_MS && this.ownerRuns(data)) {
          due(now + DEADLINE_GRACE_MS); // whether its owner still lives
          continue;
        }
      }
      try {
        const wasKilled = !!data.timedOut;
        const v = await this.recovered(rec.id, this.viewReadMax());
        if (v.status === 'running') due(Date.now() + SWEEP_RETRY_MS);
        else report.finished.push(rec.id);
        const after = await this.records.get(KIND, rec.id);
        if (!wasKilled && (after?.data as unknown as RecordData | undefined)?.timedOut) {
          report.killed.push(rec.id);
          this.logger.warn(
            `execution ${rec.id} (task ${rec.taskId}) passed its ${data.timeoutMs}ms timeout with no process running it; killed it`,
          );
        }
      } catch (e) {
        this.logger.warn(`sweep: execution ${rec.id}: ${(e as Error).message}`);
        due(Date.now() + SWEEP_MAX_MS);
      }
    }
    if (Date.now() - this.lastPurge >= PURGE_EVERY_MS) {
      this.lastPurge = Date.now();
      report.purged = await this.purgeExpired();
    }
    return report;
  }

  /** Whether another process on this host, alive, runs the command (see LIVE_OWNER_GRACE_MS). */
  private ownerRuns(data: RecordData): boolean {
    const o = data.owner;
    return !!o && o !== this.owner && ownerHere(o) && ownerAlive(o);
  }

  /** Removes finished execution records whose key TTL passed; returns how many. */
  async purgeExpired(): Promise<number> {
    let n = 0;
    for (const rec of await this.records.list(KIND, { status: ['completed', 'lost'] })) {
      if (this.keyExpired(rec) && (await this.records.delete(KIND, rec.id))) n++;
    }
    return n;
  }

  /** A finished record (completed or lost) that ended longer than OPENCODE_EXEC_KEY_TTL ago. */
  private keyExpired(rec: RuntimeRecord): boolean {
    if (rec.status !== 'completed' && rec.status !== 'lost') return false;
    return Date.now() - Date.parse(rec.updatedAt) > this.options.sandbox.execKeyTtlMs;
  }

  /** Journals a finished in-process execution and marks its record. */
  private finished(l: Live, r: SandboxExecResult): void {
    if (r.detached) {
      // The command runs on without us: poll, wait and the sweep re-attach through its record
      // (written now if the first answer is still to come: see run).
      l.detached = true;
      if (l.recorded) this.live.delete(r.executionId);
      return;
    }
    l.result = r;
    if (l.recorded && !l.keyed && !l.answered) {
      // Recorded only to outlive this process, and answered with its end: nobody asks for it by
      // record (a replay needs a key), so the record goes (as if it had never been written).
      void this.write(l, (x) => this.records.delete(KIND, x.s.executionId));
    } else if (l.recorded) {
      void this.write(l, (x) => this.save(x.s.executionId, 'completed', this.dataOf(x)));
    }
    // Only the answer and the pageable output stay, not the command's handles and buffers.
    this.live.delete(r.executionId);
    l.out.compact();
    l.err.compact();
    const bytes = l.out.size + l.err.size + r.stdout.length + r.stderr.length;
    this.kept.set(r.executionId, { view: this.viewOf(l), out: l.out, err: l.err }, bytes);
  }

  private write(l: Live, fn: (l: Live) => Promise<unknown>): Promise<unknown> {
    const next = l.chain
      .then(() => fn(l))
      .catch((e: Error) =>
        this.logger.warn(`could not record execution ${l.s.executionId}: ${e.message}`),
      );
    l.chain = next;
    this.pending.add(next);
    void next.finally(() => this.pending.delete(next));
    return next;
  }

  /**
   * Waits (at most `maxMs`) for the record writes under way, so that a process about to exit (the
   * CLI after its command, a second Ctrl-C, a server shutting down) leaves no record half-done.
   */
  async flush(maxMs = 5000): Promise<void> {
    if (this.pending.size) await within(Promise.all([...this.pending]), maxMs, undefined);
  }

  /** Before the database closes (in onApplicationShutdown of the persistence module). */
  async beforeApplicationShutdown(): Promise<void> {
    await this.flush();
  }

  private dataOf(l: Live): RecordData {
    const r = l.result;
    return {
      command: l.s.command,
      agentId: l.s.agentId,
      startedAt: l.s.startedAt,
      timeoutMs: l.s.timeoutMs,
      deadline: Date.parse(l.s.startedAt) + l.s.timeoutMs,
      session: l.s.started.session,
      pid: l.s.started.pid(),
      owner: this.owner,
      ...(r ? { result: summary(r) } : {}),
    };
  }

  /** Replaces a record's status and data (compare-and-set, retried on a concurrent write). */
  private async save(id: string, status: string, data: RecordData): Promise<void> {
    for (let i = 0; i < 5; i++) {
      const cur = await this.records.get(KIND, id);
      if (!cur) return;
      if (cur.status === 'completed' || cur.status === 'lost') return;
      const ok = await this.records.update(KIND, id, cur.version, {
        status,
        data: JSON.parse(JSON.stringify(data)),
        updatedAt: new Date().toISOString(),
      });
      if (ok) return;
    }
  }

  private viewOf(l: Live): ExecView {
    const r = l.result;
    if (r) return { ...r, status: 'completed' };
    return {
      executionId: l.s.executionId,
      taskId: l.s.taskId,
      status: 'running',
      exitCode: null,
      stdout: l.capOut.toString(),
      stderr: l.capErr.toString(),
      stdoutBytes: l.capOut.total,
      stderrBytes: l.capErr.total,
      truncated: l.capOut.truncated || l.capErr.truncated,
      timedOut: false,
      oomKilled: false,
      durationMs: Date.now() - Date.parse(l.s.startedAt),
    };
  }

  private pollView(
    v: ExecView,
    o: { data: Buffer; next: number; skipped: number },
    e: { data: Buffer; next: number; skipped: number },
  ): PollView {
    return {
      executionId: v.executionId,
      taskId: v.taskId,
      status: v.status,
      exitCode: v.exitCode,
      timedOut: v.timedOut,
      stdout: o.data.toString('utf8'),
      stderr: e.data.toString('utf8'),
      stdoutOffset: o.next,
      stderrOffset: e.next,
      stdoutSkipped: o.skipped,
      stderrSkipped: e.skipped,
      stdoutBytes: v.stdoutBytes,
      stderrBytes: v.stderrBytes,
    };
  }

  private async mustRecord(executionId: string): Promise<RuntimeRecord> {
    const rec = await this.records.get(KIND, executionId);
    if (!rec) throw new NotFoundError('execution', executionId);
    return rec;
  }

  /**
   * What a wait or the sweep reads back from the start of a recovered command's logs: what its
   * answer shows (the output cap). The end of a longer log is read as well, for the command's end.
   */
  private viewReadMax(): number {
    return Math.max(this.options.sandbox.outputCapBytes, 64 * 1024);
  }

  /**
   * An execution this process does not run: its record, and for a running one the output read
   * back from the sandbox logs. A command found ended is journaled and its record completed; one
   * past its deadline is killed (and reported timed out). `readMax`: bytes read back per stream
   * from the command's start (at most RECOVER_READ_MAX): polls read as far as they reach, waits
   * what their answer shows.
   */
  private async recovered(
    executionId: string,
    readMax: number,
  ): Promise<{ status: ExecStatus; view: ExecView; stdout: Buffer; stderr: Buffer }> {
    const rec = await this.records.get(KIND, executionId);
    if (!rec) {
      const j = await this.journal?.get(executionId).catch(() => null);
      if (j) return this.fromJournal(j);
      return this.mustRecord(executionId) as never;
    }
    const data = rec.data as unknown as RecordData;
    const taskId = rec.taskId!;
    // A command in a sandbox on another host's engine is not lost, only out of reach from here:
    // refuse (naming that host) rather than record it as lost for everyone.
    if (rec.status === 'running' || rec.status === 'starting') {
      await this.placement?.assertHere(taskId);
    }
    if (rec.status === 'completed') {
      const j = await this.journal?.get(executionId).catch(() => null);
      if (j) return this.fromJournal(j);
    }
    const base = {
      executionId,
      taskId,
      timedOut: false,
      oomKilled: false,
      truncated: false,
      durationMs: Date.now() - Date.parse(data.startedAt),
    };
    const lost = async (why: string) => {
      await this.save(executionId, 'lost', data);
      const stderr = Buffer.from(`opencode-tools: execution ${executionId} was lost: ${why}\n`);
      return {
        status: 'lost' as const,
        view: {
          ...base,
          status: 'lost' as const,
          exitCode: null,
          stdout: '',
          stderr: stderr.toString(),
          stdoutBytes: 0,
          stderrBytes: stderr.length,
        },
        stdout: Buffer.alloc(0),
        stderr,
      };
    };
    if (rec.status === 'lost') return lost('recorded as lost');
    if (!data.session) {
      if (rec.status === 'starting' && Date.now() - Date.parse(rec.updatedAt) < STARTING_STALE_MS) {
        const view = {
          ...base,
          status: 'running' as const,
          exitCode: null,
          stdout: '',
          stderr: '',
        };
        return {
          status: 'running',
          view: { ...view, stdoutBytes: 0, stderrBytes: 0 },
          stdout: Buffer.alloc(0),
          stderr: Buffer.alloc(0),
        };
      }
      return lost(
        'its output was not journaled in the sandbox (an argv or fresh command in an image without /bin/sh, mkfifo or tee runs as a plain docker exec), so nothing kept it when the process that started it ended',
      );
    }
    let logs;
    try {
      logs = await this.runtime.readSessionOutput(
        taskId,
        data.session,
        Math.min(RECOVER_READ_MAX, readMax),
      );
    } catch (e) {
      if (e instanceof DomainError && e.code === 'NOT_FOUND') {
        // The process that ran it may have finished it meanwhile (and removed its logs).
        const now = await this.records.get(KIND, executionId);
        const j =
          now?.status === 'completed'
            ? await this.journal?.get(executionId).catch(() => null)
            : null;
        if (j) return this.fromJournal(j);
        return lost(`its sandbox or session logs are gone (${e.message})`);
      }
      throw e;
    }
    const cap = this.options.sandbox.outputCapBytes;
    // A command that wrote more than was read back: its first bytes, the gap, and its last ones.
    const capped = (b: Buffer, tail?: SessionOutputTail) => {
      const c = new CappedOutput(cap);
      c.push(b);
      if (tail) {
        c.skip(tail.skipped);
        c.push(tail.data);
      }
      return c;
    };
    const co = capped(logs.stdout, logs.stdoutTail);
    const ce = capped(logs.stderr, logs.stderrTail);
    if (logs.exitCode === undefined && Date.now() > data.deadline && !data.timedOut) {
      await this.runtime.killSessionCommand(taskId, data.session, logs.pid ?? data.pid);
      await this.save(executionId, 'running', { ...data, timedOut: true });
      data.timedOut = true;
    }
    const timedOut = !!data.timedOut;
    // A full log never gets the end: the command has ended when its process is gone, or once it
    // was killed (at its deadline or by exec_kill).
    const unlogged = logs.full !== undefined && (!!logs.gone || timedOut || !!data.killed);
    const ended = logs.exitCode !== undefined || unlogged;
    if (unlogged && logs.exitCode === undefined) {
      ce.push(
        Buffer.from(
          `\nopencode-tools: this command's output filled its log in the sandbox (${Math.round(logs.full! / 1048576)} MiB per stream), so what came after, its exit code included, was not kept\n`,
        ),
      );
    }
    const result: ExecResult = {
      exitCode: ended && !timedOut && !data.killed ? (logs.exitCode ?? null) : null,
      stdout: co.toString(),
      stderr: ce.toString(),
      stdoutBytes: co.total,
      stderrBytes: ce.total,
      truncated: co.truncated || ce.truncated,
      timedOut: ended && timedOut,
      oomKilled: false,
      ...(ended && data.killed ? { killed: true } : {}),
      durationMs: Date.now() - Date.parse(data.startedAt),
    };
    if (ended) await this.finishRecovered(rec, data, result);
    const view: ExecView = {
      ...result,
      executionId,
      taskId,
      status: ended ? 'completed' : 'running',
    };
    return { status: view.status, view, stdout: logs.stdout, stderr: logs.stderr };
  }

  private async finishRecovered(rec: RuntimeRecord, data: RecordData, result: ExecResult) {
    const cur = await this.records.get(KIND, rec.id);
    if (!cur || cur.status !== 'running') return;
    const done = await this.records.update(KIND, rec.id, cur.version, {
      status: 'completed',
      data: JSON.parse(JSON.stringify({ ...data, result: summary(result) })),
      updatedAt: new Date().toISOString(),
    });
    if (!done) return; // another instance finished it
    const command = Array.isArray(data.command) ? data.command : { shell: data.command };
    await this.sandboxes
      .recordRecovered(
        { taskId: rec.taskId!, agentId: data.agentId, executionId: rec.id, command, result },
        data.startedAt,
      )
      .catch((e: Error) => this.logger.warn(`could not journal ${rec.id}: ${e.message}`));
    await this.runtime.removeSessionLogs(rec.taskId!, data.session!).catch(() => undefined);
  }

  private fromJournal(j: ExecutionRecord) {
    const join = (head: string, tail: string) => (tail ? `${head}\n[…]\n${tail}` : head);
    const stdout = join(j.stdoutHead, j.stdoutTail);
    const stderr = join(j.stderrHead, j.stderrTail);
    const view: ExecView = {
      executionId: j.id,
      taskId: j.taskId,
      status: 'completed',
      exitCode: j.exitCode,
      stdout,
      stderr,
      stdoutBytes: j.stdoutBytes,
      stderrBytes: j.stderrBytes,
      truncated: j.truncated || !!j.stdoutTail || !!j.stderrTail,
      timedOut: j.timedOut,
      oomKilled: false,
      durationMs: j.durationMs,
    };
    return {
      status: 'completed' as const,
      view,
      stdout: Buffer.from(stdout),
      stderr: Buffer.from(stderr),
    };
  }
}
