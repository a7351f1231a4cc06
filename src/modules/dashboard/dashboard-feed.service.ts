import { Injectable, Logger, Optional, type OnApplicationShutdown } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import type { ServerResponse } from 'node:http';
import type { LogRecord } from '../../domain/history';
import type { Task } from '../../domain/task';
import type { ReconcileAction } from '../docker/reconciler.service';
import { SandboxService } from '../docker/sandbox.service';
import { SANDBOX_EVENTS, type SandboxAlert, type SandboxExecEvent } from '../docker/sandbox.events';
import { TaskLogService } from '../history/task-log.service';
import { HOOK_EVENT_PREFIX, TASK_HOOK_EVENTS, type HookContext } from '../hooks/hook.types';
import { AgentAttachmentService } from '../locks/agent-attachment.service';
import { TasksService } from '../tasks/tasks.service';
import { summarize } from './task-summary';

/** Limits and periods of the feed; the README lists them. */
export const FEED_LIMITS = {
  /** Concurrent dashboard streams; more get 503. */
  maxViewers: 100,
  /** A viewer whose unsent backlog exceeds this is dropped (it reconnects and reloads). */
  maxBacklogBytes: 1024 * 1024,
  /** Comment line that keeps proxies from closing an idle stream. */
  heartbeatMs: 15_000,
  /**
   * One shared query for changes made by other processes (CLI, other servers), and one for
   * deletions among the tasks dashboards were shown.
   */
  changePollMs: 2_000,
  /** Task ids (most recently shown) whose deletion by another process the poll looks for. */
  deletionWatchMax: 5_000,
  /** Ids per existence query. */
  deletionCheckChunk: 1_000,
  /** Stats and lock holders of a task someone is looking at. */
  samplePollMs: 2_000,
  /** Recent alerts and reconciler actions the system view shows (read from the database). */
  recentMax: 50,
} as const;

interface Viewer {
  res: ServerResponse;
  taskId?: string;
}

/** One shared watcher per task that at least one viewer has open. */
interface TaskWatch {
  viewers: number;
  abort: AbortController;
  locksJson?: string;
}

/**
 * One change feed for every dashboard: subscribes once to the domain events (lifecycle, sandbox
 * alerts, reconciler, execs), plus one shared poll for changes made by other processes, and fans
 * each change out to all connected viewers as Server-Sent Events. A viewer on a task's page also
 * gets that task's new log lines, resource samples and lock holders, from one watcher per task
 * however many viewers share it. No viewer causes database reads of its own.
 */
@Injectable()
export class DashboardFeed implements OnApplicationShutdown {
  private readonly logger = new Logger('DashboardFeed');
  private readonly viewers = new Set<Viewer>();
  private readonly watches = new Map<string, TaskWatch>();
  private readonly off: (() => void)[] = [];
  private heartbeat?: NodeJS.Timeout;
  private poller?: NodeJS.Timeout;
  private known = new Map<string, number>();
  /** Ids dashboards were shown (pages, task views, live rows), oldest first; see `showing`. */
  private readonly shown = new Map<string, true>();
  private polling = false;

  constructor(
    private readonly events: EventEmitter2,
    private readonly tasks: TasksService,
    private readonly logs: TaskLogService,
    private readonly attachments: AgentAttachmentService,
    @Optional() private readonly sandboxes?: SandboxService,
  ) {}

  get viewerCount(): number {
    return this.viewers.size;
  }

  /** Subscribes to the domain events; idempotent. `serve` calls it at start-up. */
  start(): void {
    if (this.off.length) return;
    for (const event of TASK_HOOK_EVENTS) {
      if (!event.startsWith('after') || event === 'afterSandboxAlert') continue;
      this.on(HOOK_EVENT_PREFIX + event, (ctx: HookContext) => {
        if (event === 'afterTaskDelete') this.deleted(ctx.task.id);
        else this.taskChanged(ctx.task, event);
      });
    }
    // Live pushes of this process's alerts and reconciler actions; the system view loads the
    // durable ones (every process's) from the database.
    this.on(SANDBOX_EVENTS.alert, (a: SandboxAlert) => this.broadcast({ type: 'alert', alert: a }));
    this.on(SANDBOX_EVENTS.reconciled, (a: ReconcileAction) => {
      this.broadcast({ type: 'reconciled', action: { ...a, at: new Date().toISOString() } });
    });
    this.on(SANDBOX_EVENTS.exec, (e: SandboxExecEvent) => {
      const r = e.result;
      this.toTask(e.taskId, {
        type: 'exec',
        taskId: e.taskId,
        execution: {
          id: e.executionId,
          agentId: e.agentId,
          command: e.command,
          exitCode: r.exitCode,
          durationMs: r.durationMs,
          timedOut: r.timedOut,
        },
      });
    });
  }

  /** Opens an SSE stream on `res`; `taskId` adds that task's logs, stats and lock holders. */
  attach(res: ServerResponse, taskId?: string): boolean {
    if (this.viewers.size >= FEED_LIMITS.maxViewers) return false;
    this.start();
    const viewer: Viewer = { res, taskId };
    this.viewers.add(viewer);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\n\n`);
    this.send(viewer, { type: 'hello', viewers: this.viewers.size });
    if (taskId) this.watch(taskId);
    res.once('close', () => this.detach(viewer));
    this.timers();
    return true;
  }

  /** Ends every stream (server shutting down). */
  closeAll(): void {
    for (const v of [...this.viewers]) v.res.end();
    this.viewers.clear();
    for (const w of this.watches.values()) w.abort.abort();
    this.watches.clear();
    this.timers();
  }

  onApplicationShutdown(): void {
    this.closeAll();
    for (const off of this.off.splice(0)) off();
  }

  private on<T>(event: string, fn: (e: T) => void): void {
    const listener = (e: T) => {
      try {
        fn(e);
      } catch (err) {
        this.logger.warn(`dashboard feed: ${event}: ${(err as Error).message}`);
      }
    };
    this.events.on(event, listener);
    this.off.push(() => this.events.off(event, listener));
  }

  /** Tells every viewer a task changed outside the lifecycle hooks (e.g. a restore). */
  announce(task: Task): void {
    this.taskChanged(task, 'changed');
  }

  private taskChanged(task: Task, event?: string): void {
    this.known.set(task.id, task.version);
    // Lists insert new tasks live: those become rows to watch for deletion too.
    if (event === 'afterTaskCreate' && this.viewers.size) this.showing([task.id]);
    this.broadcast({ type: 'task', event, task: summarize(task) });
  }

  private deleted(id: string): void {
    this.shown.delete(id);
    this.known.delete(id);
    this.broadcast({ type: 'deleted', id });
  }

  /**
   * Notes ids that a dashboard is showing (the API calls it when it serves a page or a task), so
   * the shared poll can tell viewers when another process deletes one. Bounded: the oldest fall
   * out first, and a page that old has usually been left.
   */
  showing(ids: readonly string[]): void {
    for (const id of ids) {
      this.shown.delete(id);
      this.shown.set(id, true);
    }
    const over = this.shown.size - FEED_LIMITS.deletionWatchMax;
    if (over > 0) {
      let n = 0;
      for (const id of this.shown.keys()) {
        if (n++ >= over) break;
        this.shown.delete(id);
      }
    }
  }

  private detach(viewer: Viewer): void {
    if (!this.viewers.delete(viewer)) return;
    if (viewer.taskId) this.unwatch(viewer.taskId);
    this.timers();
  }

  /** Heartbeat and change poll run only while someone is watching. */
  private timers(): void {
    if (this.viewers.size && !this.heartbeat) {
      this.heartbeat = setInterval(() => {
        for (const v of this.viewers) v.res.write(': keep-alive\n\n');
      }, FEED_LIMITS.heartbeatMs);
      this.heartbeat.unref();
      this.known.clear();
      void this.pollChanges(true);
      this.poller = setInterval(() => void this.pollChanges(false), FEED_LIMITS.changePollMs);
      this.poller.unref();
    } else if (!this.viewers.size && this.heartbeat) {
      clearInterval(this.heartbeat);
      clearInterval(this.poller);
      this.heartbeat = this.poller = undefined;
    }
  }

  /** The most recently updated tasks; any whose version moved is announced (other processes). */
  private async pollChanges(baseline: boolean): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const page = await this.tasks.list({ sort: 'updatedAt', order: 'desc', limit: 50 });
      for (const t of page.items) {
        const seen = this.known.get(t.id);
        if (!baseline && seen !== undefined && seen >= t.version) continue;
        if (baseline || seen === t.version) this.known.set(t.id, t.version);
        else this.taskChanged(t, 'changed');
      }
      if (this.known.size > 5_000) this.known = new Map([...this.known].slice(-1_000));
      if (!baseline) await this.pollDeletions();
    } catch (err) {
      this.logger.debug(`change poll failed: ${(err as Error).message}`);
    } finally {
      this.polling = false;
    }
  }

  /** Shown ids that no longer exist were deleted by another process (ours announce themselves). */
  private async pollDeletions(): Promise<void> {
    const ids = [...this.shown.keys()];
    for (let i = 0; i < ids.length; i += FEED_LIMITS.deletionCheckChunk) {
      const chunk = ids.slice(i, i + FEED_LIMITS.deletionCheckChunk);
      const alive = new Set(await this.tasks.existingIds(chunk));
      for (const id of chunk) if (!alive.has(id) && this.shown.has(id)) this.deleted(id);
    }
  }

  private watch(taskId: string): void {
    const existing = this.watches.get(taskId);
    if (existing) {
      existing.viewers++;
      return;
    }
    const w: TaskWatch = { viewers: 1, abort: new AbortController() };
    this.watches.set(taskId, w);
    void this.followLogs(taskId, w.abort.signal);
    void this.sampleLoop(taskId, w);
  }

  private unwatch(taskId: string): void {
    const w = this.watches.get(taskId);
    if (!w || --w.viewers > 0) return;
    w.abort.abort();
    this.watches.delete(taskId);
  }

  private async followLogs(taskId: string, signal: AbortSignal): Promise<void> {
    try {
      const since = new Date().toISOString();
      const onError = (err: Error) =>
        this.logger.warn(`log follow ${taskId}: ${err.message}; retrying`);
      for await (const entry of this.logs.follow(taskId, { since }, { signal, onError })) {
        this.toTask(taskId, { type: 'log', taskId, entry: entry as LogRecord });
      }
    } catch (err) {
      if (!signal.aborted) this.logger.debug(`log follow ${taskId}: ${(err as Error).message}`);
    }
  }

  private async sampleLoop(taskId: string, w: TaskWatch): Promise<void> {
    const signal = w.abort.signal;
    while (!signal.aborted) {
      try {
        const locks = await this.attachments.list({ taskId });
        const json = JSON.stringify(locks);
        if (json !== w.locksJson) {
          w.locksJson = json;
          this.toTask(taskId, { type: 'locks', taskId, locks });
        }
        if (this.sandboxes) {
          const task = await this.tasks.get(taskId);
          if (task.sandbox && task.status === 'running') {
            const s = await this.sandboxes.status(taskId, { stats: true });
            if (s.stats) this.toTask(taskId, { type: 'stats', taskId, stats: s.stats });
          }
        }
      } catch (err) {
        this.logger.debug(`sampling ${taskId}: ${(err as Error).message}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, FEED_LIMITS.samplePollMs);
        t.unref();
        signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
      });
    }
  }

  private frame(msg: Record<string, unknown>): string {
    return `data: ${JSON.stringify(msg)}\n\n`;
  }

  private send(v: Viewer, msg: Record<string, unknown> | string): void {
    const res = v.res;
    if (res.writableLength > FEED_LIMITS.maxBacklogBytes) {
      // A stalled viewer must not grow our memory; it reconnects and reloads its page.
      this.detach(v);
      res.destroy();
      return;
    }
    res.write(typeof msg === 'string' ? msg : this.frame(msg));
  }

  private broadcast(msg: Record<string, unknown>): void {
    if (!this.viewers.size) return;
    const data = this.frame(msg);
    for (const v of [...this.viewers]) this.send(v, data);
  }

  private toTask(taskId: string, msg: Record<string, unknown>): void {
    if (!this.watches.has(taskId)) return;
    const data = this.frame(msg);
    for (const v of [...this.viewers]) if (v.taskId === taskId) this.send(v, data);
  }
}
