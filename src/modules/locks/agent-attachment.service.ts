import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import { DomainError, NotFoundError } from '../../domain/errors';
import { waitSchema, type LockGrant, type LockMode } from '../../domain/lock';
import { isTerminal, type Task } from '../../domain/task';
import { parseOrThrow } from '../../domain/validation';
import { TASK_REPOSITORY, type TaskRepository } from '../../ports/task-repository.port';
import type { LockSubject } from './lock-errors';
import { LockManager } from './lock-manager.service';

/** Lease resources of task attachments are `task:<id>`. */
export const TASK_LOCK_PREFIX = 'task:';
export const taskResource = (taskId: string) => `${TASK_LOCK_PREFIX}${taskId}`;

/** An agent's live lease on a task. */
export interface Attachment {
  taskId: string;
  agentId: string;
  mode: LockMode;
  /** Fencing token: strictly greater than every earlier attachment's to this task. */
  token: number;
  ttlMs: number;
  acquiredAt: string;
  renewedAt: string;
  expiresAt: string;
}

const TASK_ID = z
  .string({ error: 'is required; pass --task <id>' })
  .trim()
  .min(1, 'is required; pass --task <id>');
const AGENT_ID = z
  .string({ error: 'is required; pass --agent <id>' })
  .trim()
  .min(1, 'is required; pass --agent <id>')
  .max(200, 'must be at most 200 characters');

export function toAttachment(g: LockGrant): Attachment {
  return {
    taskId: g.resource.slice(TASK_LOCK_PREFIX.length),
    agentId: g.holder,
    mode: g.mode,
    token: g.token,
    ttlMs: g.ttlMs,
    acquiredAt: g.acquiredAt,
    renewedAt: g.renewedAt,
    expiresAt: g.expiresAt,
  };
}

/**
 * Agents attach to tasks through leases: one agent at a time on an `exclusive` task, any number on
 * a `collaborative` one. A lease lives for its TTL and is extended by heartbeats and by actions
 * checked with {@link assertAttached} (at most once per quarter TTL); when it lapses the task is
 * free again.
 * @example
 * const a = await attachments.attach(taskId, 'agent-7', { ttlMs: 30_000 });
 * await attachments.assertAttached(taskId, 'agent-7'); // before acting; throws if stale
 * await attachments.detach(taskId, 'agent-7');
 */
@Injectable()
export class AgentAttachmentService {
  constructor(
    private readonly locks: LockManager,
    @Inject(TASK_REPOSITORY) private readonly tasks: TaskRepository,
  ) {}

  private ids(taskId: string, agentId: string) {
    return {
      taskId: parseOrThrow(TASK_ID, taskId, 'taskId'),
      agentId: parseOrThrow(AGENT_ID, agentId, 'agentId'),
    };
  }

  private subject(taskId: string, agentId: string): LockSubject {
    return {
      thing: `task ${taskId}`,
      who: `agent '${agentId}'`,
      hint: `attach it first: opencode-tools attach-agent --task ${taskId} --agent ${agentId}`,
      again: `attach again (attach-agent --task ${taskId} --agent ${agentId})`,
    };
  }

  private async task(taskId: string): Promise<Task> {
    const task = await this.tasks.findById(taskId);
    if (!task) throw new NotFoundError('task', taskId);
    return task;
  }

  /**
   * Attaches (or re-attaches, keeping the token and extending the lease) per the task's mode.
   * Fails at once with LOCK_HELD naming the holder, unless `waitMs` asks to retry until then.
   */
  async attach(
    taskId: string,
    agentId: string,
    opts: { ttlMs?: number; waitMs?: number } = {},
  ): Promise<Attachment> {
    const ids = this.ids(taskId, agentId);
    const task = await this.task(ids.taskId);
    if (isTerminal(task.status)) {
      throw new DomainError(
        'ILLEGAL_TRANSITION',
        `task ${task.id} is ${task.status}; agents can only attach to pending or running tasks`,
        { taskId: task.id, status: task.status },
      );
    }
    const resource = taskResource(task.id);
    const subject = this.subject(task.id, ids.agentId);
    const waitMs = opts.waitMs === undefined ? 0 : parseOrThrow(waitSchema, opts.waitMs, 'wait');
    const grant = waitMs
      ? await this.locks.acquireLockWithRetry(resource, ids.agentId, task.mode, {
          ttlMs: opts.ttlMs,
          waitMs,
          subject,
        })
      : await this.locks.acquireLock(resource, ids.agentId, task.mode, {
          ttlMs: opts.ttlMs,
          subject,
        });
    return toAttachment(grant);
  }

  /** Ends the agent's attachment (whatever its re-entry count). */
  async detach(taskId: string, agentId: string): Promise<Attachment> {
    const ids = this.ids(taskId, agentId);
    const { grant } = await this.locks.releaseLock(taskResource(ids.taskId), ids.agentId, {
      all: true,
      // no "attach it first" hint: the caller wanted to be detached, and is
      subject: { ...this.subject(ids.taskId, ids.agentId), hint: undefined },
    });
    return toAttachment(grant);
  }

  /** Renews the lease (to `ttlMs`, default the attachment's TTL). */
  async heartbeat(taskId: string, agentId: string, opts: { ttlMs?: number } = {}) {
    const ids = this.ids(taskId, agentId);
    const grant = await this.locks.renewLock(taskResource(ids.taskId), ids.agentId, {
      ttlMs: opts.ttlMs,
      subject: this.subject(ids.taskId, ids.agentId),
    });
    return toAttachment(grant);
  }

  /**
   * The check other modules make before acting for an agent: resolves with the live attachment
   * (its fencing token included) and renews it, since activity keeps a lease alive: once a
   * quarter of its TTL has passed since the last renewal (before that, the check is one read and
   * at least three quarters of the lease are left). Throws
   * NOT_ATTACHED, LEASE_EXPIRED (lapsed, or `token` superseded) or LOCK_HELD (someone else holds
   * the task now, named with their expiry). A refused check writes nothing.
   */
  async assertAttached(
    taskId: string,
    agentId: string,
    opts: { token?: number } = {},
  ): Promise<Attachment> {
    const ids = this.ids(taskId, agentId);
    const grant = await this.locks.renewLock(taskResource(ids.taskId), ids.agentId, {
      token: opts.token,
      subject: this.subject(ids.taskId, ids.agentId),
      lazy: true,
    });
    return toAttachment(grant);
  }

  /** Live attachments, of one task or of all. */
  async list(filter: { taskId?: string; agentId?: string } = {}): Promise<Attachment[]> {
    const grants = await this.locks.listLocks({
      resource: filter.taskId === undefined ? undefined : taskResource(filter.taskId),
      holder: filter.agentId,
    });
    return grants.filter((g) => g.resource.startsWith(TASK_LOCK_PREFIX)).map(toAttachment);
  }
}
