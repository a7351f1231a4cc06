import { Inject, Injectable, Optional } from '@nestjs/common';
import { z } from 'zod';
import type { StateDoc } from '../../domain/history';
import { parseOrThrow } from '../../domain/validation';
import { CLOCK, type Clock } from '../../ports/clock.port';
import { STATE_STORE, type StateStore } from '../../ports/state-store.port';
import { AgentAttachmentService } from '../locks/agent-attachment.service';
import { TaskLookup } from './task-lookup';

const dataSchema = z.record(z.string(), z.unknown(), {
  error: 'must be a JSON object such as {"step": 3}',
});

/**
 * The latest state document of a task.
 * @example
 * const doc = await state.get(taskId);
 * await state.put(taskId, { ...doc?.data, step: 4 }, doc?.version ?? 0);
 */
@Injectable()
export class TaskStateService {
  constructor(
    @Inject(STATE_STORE) private readonly store: StateStore,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly lookup: TaskLookup,
    @Optional() private readonly attachments?: AgentAttachmentService,
  ) {}

  async get(taskId: string): Promise<StateDoc | null> {
    const task = await this.lookup.get(taskId);
    return this.store.get(task.id);
  }

  /**
   * `expectedVersion`: the version you read (0 for the first write). With `agentId`, the agent must
   * hold a live attachment. @throws CONFLICT, VALIDATION, NOT_ATTACHED / LEASE_EXPIRED / LOCK_HELD.
   */
  async put(
    taskId: string,
    data: unknown,
    expectedVersion: number,
    opts: { agentId?: string } = {},
  ): Promise<StateDoc> {
    const task = await this.lookup.get(taskId);
    if (opts.agentId && this.attachments) {
      await this.attachments.assertAttached(task.id, opts.agentId);
    }
    const doc = parseOrThrow(dataSchema, data, 'state');
    const version = parseOrThrow(z.number().int().min(0), expectedVersion, 'expectedVersion');
    return this.store.put(task.id, doc, version, this.clock.now().toISOString());
  }
}
