import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConflictError } from '../../domain/errors';
import {
  RUNTIME_RECORD_STORE,
  type RuntimeRecord,
  type RuntimeRecordStore,
} from '../../ports/runtime-record-store.port';
import type { SessionStateChange } from '../../ports/sandbox-runtime.port';

/** Runtime-record kind of a task's session state (id = task id). */
export const SESSION_STATE_KIND = 'session-state';

/** Records remembered per process (a hint that saves a read per write; the store decides). */
const SEEN_MAX = 10_000;

interface Seen {
  version: number;
  finishedAt: number;
}
/**
 * Compare-and-set attempts before a write is given up (logged). A process writes one state of a
 * task at a time, so only other instances compete, and each lost round means one of them won.
 */
const ATTEMPTS = 32;

/**
 * The directory and exported environment of each task's shell sessions, kept in the database so
 * that they outlive the serving process and are shared by every instance on the database (README
 * "Exec sessions"). One runtime record per task, written when a command changed the state (not on
 * every command) and read before each session command (one indexed read, run beside the task
 * lookup): whichever command finished last wins, whichever process ran it. Reads and writes never
 * fail a command: a store error is logged and the command runs from (or keeps) this process's
 * state. The text may hold secrets an agent exported; it is never logged.
 * @example
 * const seed = await states.load(taskId); // pass as ExecRequest.sessionState
 * await states.save(taskId, started.sessionState?.());
 */
@Injectable()
export class SessionStateService {
  private readonly logger = new Logger('SessionState');
  /** The record as this process last saw it (a hint: the store's compare-and-set decides). */
  private readonly seen = new Map<string, Seen>();
  /** The write in flight per task: a process's writes of one task go one after the other. */
  private readonly writing = new Map<string, Promise<void>>();

  constructor(@Inject(RUNTIME_RECORD_STORE) private readonly records: RuntimeRecordStore) {}

  /** The state the task's last state-changing command left, from any process; undefined if none. */
  async load(taskId: string): Promise<SessionStateChange | undefined> {
    try {
      const rec = await this.records.get(SESSION_STATE_KIND, taskId);
      if (!rec) {
        this.seen.delete(taskId);
        return undefined;
      }
      const state = stateOf(rec);
      this.remember(taskId, rec.version, state.finishedAt);
      return state;
    } catch (err) {
      this.logger.warn(
        `could not read the session state of task ${taskId}: ${(err as Error).message}`,
      );
      return undefined;
    }
  }

  /**
   * Stores the state unless a command that finished later already stored its own. Compare-and-set
   * on the record's version, re-read on a conflict: two instances writing at once cannot
   * interleave, and the newer `finishedAt` wins whatever order the writes arrive in.
   */
  async save(taskId: string, state: SessionStateChange | undefined): Promise<void> {
    if (!state) return;
    const prev = this.writing.get(taskId) ?? Promise.resolve();
    const mine = prev.then(() => this.write(taskId, state));
    this.writing.set(taskId, mine);
    try {
      await mine;
    } finally {
      if (this.writing.get(taskId) === mine) this.writing.delete(taskId);
    }
  }

  private async write(taskId: string, state: SessionStateChange): Promise<void> {
    const data = { text: state.text, finishedAt: state.finishedAt };
    try {
      let seen = this.seen.get(taskId);
      for (let i = 0; i < ATTEMPTS; i++) {
        if (seen && seen.finishedAt > state.finishedAt) return; // a later command's is there
        const updatedAt = new Date().toISOString();
        if (!seen) {
          const cur = await this.insertOrGet(taskId, data, updatedAt);
          if (!cur) return this.remember(taskId, 1, state.finishedAt);
          seen = { version: cur.version, finishedAt: stateOf(cur).finishedAt };
          continue;
        }
        const rec = await this.records.update(SESSION_STATE_KIND, taskId, seen.version, {
          status: 'current',
          data,
          updatedAt,
        });
        if (rec) return this.remember(taskId, rec.version, state.finishedAt);
        const cur = await this.records.get(SESSION_STATE_KIND, taskId);
        // Gone since we knew it: the sandbox was removed; never bring a removed state back.
        if (!cur) return void this.seen.delete(taskId);
        seen = { version: cur.version, finishedAt: stateOf(cur).finishedAt };
        this.remember(taskId, seen.version, seen.finishedAt);
      }
      this.logger.warn(
        `gave up storing the session state of task ${taskId} after ${ATTEMPTS} conflicting writes`,
      );
    } catch (err) {
      this.logger.warn(
        `could not store the session state of task ${taskId}: ${(err as Error).message}`,
      );
    }
  }

  /** Removes the task's state (its sandbox was removed). */
  async forget(taskId: string): Promise<void> {
    this.seen.delete(taskId);
    await this.records.delete(SESSION_STATE_KIND, taskId);
  }

  /** Inserts the first record of the task (null), or returns the one another write put there. */
  private async insertOrGet(
    taskId: string,
    data: SessionStateChange,
    updatedAt: string,
  ): Promise<RuntimeRecord | null> {
    try {
      await this.records.insert({
        kind: SESSION_STATE_KIND,
        id: taskId,
        taskId,
        status: 'current',
        data: { ...data },
        updatedAt,
      });
      return null;
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      const cur = await this.records.get(SESSION_STATE_KIND, taskId);
      if (!cur) throw err; // removed in between: the sandbox went away, nothing to keep
      return cur;
    }
  }

  private remember(taskId: string, version: number, finishedAt: number): void {
    if (this.seen.size >= SEEN_MAX && !this.seen.has(taskId)) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    this.seen.set(taskId, { version, finishedAt });
  }
}

function stateOf(rec: RuntimeRecord): SessionStateChange {
  const d = rec.data as Partial<SessionStateChange>;
  return { text: String(d.text ?? ''), finishedAt: Number(d.finishedAt ?? 0) };
}
