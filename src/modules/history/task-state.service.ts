import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import type { StateDoc } from '../../domain/history';
import { parseOrThrow } from '../../domain/validation';
import { CLOCK, type Clock } from '../../ports/clock.port';
import { STATE_STORE, type StateStore } from '../../ports/state-store.port';
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
  ) {}

  async get(taskId: string): Promise<StateDoc | null> {
    const task = await this.lookup.get(taskId);
    return this.store.get(task.id);
  }

  /** `expectedVersion`: the version you read (0 for the first write). @throws CONFLICT, VALIDATION. */
  async put(taskId: string, data: unknown, expectedVersion: number): Promise<StateDoc> {
    const task = await this.lookup.get(taskId);
    const doc = parseOrThrow(dataSchema, data, 'state');
    const version = parseOrThrow(z.number().int().min(0), expectedVersion, 'expectedVersion');
    return this.store.put(task.id, doc, version, this.clock.now().toISOString());
  }
}
