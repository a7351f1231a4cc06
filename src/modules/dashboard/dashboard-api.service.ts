import { Injectable, Optional } from '@nestjs/common';
import { ValidationError } from '../../domain/errors';
import { LOG_LEVELS, type LogLevel } from '../../domain/history';
import { TASK_STATUSES, type TaskStatus } from '../../domain/task';
import { SandboxActivity } from '../docker/sandbox-activity.service';
import { SandboxMonitorService } from '../docker/sandbox-monitor.service';
import { SandboxService } from '../docker/sandbox.service';
import { CheckpointsService } from '../history/checkpoints.service';
import { DecisionsService } from '../history/decisions.service';
import { ExecutionsService } from '../history/executions.service';
import { TaskLogService } from '../history/task-log.service';
import { AgentAttachmentService } from '../locks/agent-attachment.service';
import { HealthService } from '../metrics/health.service';
import { TasksService } from '../tasks/tasks.service';
import { DashboardFeed, FEED_LIMITS } from './dashboard-feed.service';
import { summarize } from './task-summary';

/** Page sizes of the dashboard API; the README lists them. */
export const API_LIMITS = {
  pageDefault: 50,
  pageMax: 200,
  logTailDefault: 200,
  logTailMax: 2_000,
  historyDefault: 50,
  historyMax: 200,
} as const;

function intParam(q: URLSearchParams, name: string, def: number, min: number, max: number) {
  const raw = q.get(name);
  if (raw === null || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ValidationError(name, `expected a whole number ${min}-${max}, got '${raw}'`);
  }
  return n;
}

/**
 * What the dashboard reads and does, over the same services as the CLI and MCP. Every method
 * takes plain values and throws DomainErrors; the HTTP layer maps them to status codes.
 */
@Injectable()
export class DashboardApi {
  constructor(
    private readonly tasks: TasksService,
    private readonly logs: TaskLogService,
    private readonly executions: ExecutionsService,
    private readonly decisions: DecisionsService,
    private readonly checkpoints: CheckpointsService,
    private readonly attachments: AgentAttachmentService,
    private readonly health: HealthService,
    private readonly feed: DashboardFeed,
    private readonly activity: SandboxActivity,
    @Optional() private readonly sandboxes?: SandboxService,
    @Optional() private readonly monitor?: SandboxMonitorService,
  ) {}

  /**
   * `?status=a,b&owner=&q=&sort=&order=&limit=&offset=`; `q` searches name, description and
   * metadata within the tasks the other filters select.
   */
  async listTasks(q: URLSearchParams) {
    const limit = intParam(q, 'limit', API_LIMITS.pageDefault, 1, API_LIMITS.pageMax);
    const offset = intParam(q, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
    const text = q.get('q')?.trim();
    const statuses = (q.get('status') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const s of statuses) {
      if (!TASK_STATUSES.includes(s as TaskStatus)) {
        throw new ValidationError('status', `'${s}' is not one of ${TASK_STATUSES.join(', ')}`);
      }
    }
    const filter = {
      status: statuses.length ? (statuses as TaskStatus[]) : undefined,
      owner: q.get('owner') || undefined,
      sort: (q.get('sort') || 'createdAt') as 'createdAt',
      order: (q.get('order') || 'desc') as 'desc',
      limit,
      offset,
    };
    // The text search takes the same filters and order as the list.
    const page = text ? await this.tasks.find(text, filter) : await this.tasks.list(filter);
    this.feed.showing(page.items.map((t) => t.id));
    return { ...page, items: page.items.map(summarize) };
  }

  async taskSummary(id: string) {
    const task = await this.tasks.get(id);
    this.feed.showing([task.id]);
    return summarize(task);
  }

  async task(id: string) {
    const task = await this.tasks.get(id);
    this.feed.showing([task.id]);
    const [sandbox, locks, checkpoints, timeline] = await Promise.all([
      this.sandboxStatus(task.id, !!task.sandbox),
      this.attachments.list({ taskId: task.id }),
      this.checkpoints.list(task.id),
      this.timeline(task.id),
    ]);
    return {
      task,
      sandbox,
      locks,
      timeline,
      checkpoints: checkpoints.map(({ id: cid, description, createdAt, agentId, snapshot }) => ({
        id: cid,
        description,
        createdAt,
        agentId,
        hasSnapshot: !!snapshot,
      })),
    };
  }

  private async sandboxStatus(taskId: string, has: boolean) {
    if (!has) return null;
    if (!this.sandboxes) return { error: 'no sandbox engine in this process' };
    try {
      // No stats call here: Docker takes 1-2 s for one. The page shows the monitor's last sample,
      // and the change feed sends fresh ones every 2 s while the task is open.
      const status = await this.sandboxes.status(taskId);
      const latest = this.monitor?.latest.get(taskId);
      return latest ? { ...status, stats: latest } : status;
    } catch (err) {
      return { error: (err as Error).message };
    }
  }

  /** Status changes and restores, oldest first, from the task's own log. */
  private async timeline(taskId: string) {
    const { entries } = await this.logs.read(taskId, { level: 'info', tail: 500 });
    return entries
      .filter((e) => {
        const d = e.data as { transition?: unknown; checkpointId?: unknown } | undefined;
        return d?.transition !== undefined || e.message.startsWith('restored to checkpoint');
      })
      .map((e) => ({ ts: e.ts, message: e.message, data: e.data, rewoundBy: e.rewoundBy }));
  }

  async logTail(id: string, q: URLSearchParams) {
    const level = q.get('level') || undefined;
    if (level && !LOG_LEVELS.includes(level as LogLevel)) {
      throw new ValidationError('level', `'${level}' is not one of ${LOG_LEVELS.join(', ')}`);
    }
    const tail = intParam(q, 'tail', API_LIMITS.logTailDefault, 1, API_LIMITS.logTailMax);
    const r = await this.logs.read(id, { level: level as LogLevel | undefined, tail });
    return { entries: r.entries, corrupt: r.corrupt };
  }

  async executionList(id: string, q: URLSearchParams) {
    const limit = intParam(q, 'limit', API_LIMITS.historyDefault, 1, API_LIMITS.historyMax);
    return this.executions.list({ taskId: id, limit, order: 'desc' });
  }

  async decisionList(id: string, q: URLSearchParams) {
    const limit = intParam(q, 'limit', API_LIMITS.historyDefault, 1, API_LIMITS.historyMax);
    return this.decisions.list({ taskId: id, limit, order: 'desc' });
  }

  async system() {
    const [health, stats, failures, activity] = await Promise.all([
      this.health.check(),
      this.tasks.stats(),
      this.tasks.list({ status: ['failed'], sort: 'updatedAt', order: 'desc', limit: 10 }),
      // From the database: every process's, and those from before this server started.
      this.activity.recent(FEED_LIMITS.recentMax),
    ]);
    return {
      health,
      counts: { total: stats.total, byStatus: stats.byStatus },
      recentFailures: failures.items.map(summarize),
      alerts: activity.alerts,
      reconciler: activity.actions,
      viewers: this.feed.viewerCount,
    };
  }

  /** `cancel`, `checkpoint`, `restore`, `fork`, `delete` with the JSON body's fields. */
  async act(id: string, action: string, body: Record<string, unknown>) {
    const str = (k: string) => {
      const v = body[k];
      if (v === undefined || v === null || v === '') return undefined;
      if (typeof v !== 'string') throw new ValidationError(k, 'must be a string');
      return v;
    };
    switch (action) {
      case 'cancel':
        return { task: await this.tasks.cancel(id, { reason: str('reason') }) };
      case 'checkpoint':
        return {
          checkpoint: await this.checkpoints.create({
            taskId: id,
            description: str('description') ?? 'from the dashboard',
          }),
        };
      case 'restore': {
        const r = await this.checkpoints.restore(id, str('checkpointId') ?? '');
        // Restore writes the task directly (no lifecycle hook): announce it ourselves.
        this.feed.announce(r.task);
        return { task: r.task, rewound: r.rewound, checkpointId: r.checkpoint.id };
      }
      case 'fork':
        return { task: await this.checkpoints.fork(id, str('checkpointId') ?? '', str('name')) };
      case 'delete':
        return { task: await this.tasks.delete(id, { force: body.force === true }) };
      default:
        throw new ValidationError(
          'action',
          `'${action}' is not one of cancel, checkpoint, restore, fork, delete`,
        );
    }
  }
}
