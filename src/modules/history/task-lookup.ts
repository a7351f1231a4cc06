import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import { NotFoundError } from '../../domain/errors';
import type { Task } from '../../domain/task';
import { parseOrThrow } from '../../domain/validation';
import { TASK_REPOSITORY, type TaskRepository } from '../../ports/task-repository.port';

const TASK_ID = z
  .string({ error: 'is required' })
  .trim()
  .min(1, 'is required; pass the task id (see list-tasks)');

/** Resolves a task id to a live task, so nothing is written for a task that does not exist. */
@Injectable()
export class TaskLookup {
  constructor(@Inject(TASK_REPOSITORY) readonly repo: TaskRepository) {}

  async get(id: unknown): Promise<Task> {
    const taskId = parseOrThrow(TASK_ID, id, 'taskId');
    const task = await this.repo.findById(taskId);
    if (!task) throw new NotFoundError('task', taskId);
    return task;
  }
}
