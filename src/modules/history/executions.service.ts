import { Inject, Injectable } from '@nestjs/common';
import { NotFoundError } from '../../domain/errors';
import {
  executionQuerySchema,
  executionRecordSchema,
  type ExecutionQueryInput,
  type ExecutionRecord,
  type ExecutionRecordInput,
  runRecordFits,
} from '../../domain/execution';
import { parseOrThrow } from '../../domain/validation';
import {
  EXECUTION_STORE,
  type ExecutionPage,
  type ExecutionStore,
} from '../../ports/execution-store.port';
import { TaskLookup } from './task-lookup';

/** The executions journal: what was run in a task, by whom, and how it ended. */
@Injectable()
export class ExecutionsService {
  constructor(
    @Inject(EXECUTION_STORE) private readonly store: ExecutionStore,
    private readonly lookup: TaskLookup,
  ) {}

  async record(input: ExecutionRecordInput): Promise<ExecutionRecord> {
    const rec = parseOrThrow(executionRecordSchema, input, 'execution');
    await this.lookup.get(rec.taskId);
    return this.store.record(rec as ExecutionRecord);
  }

  /**
   * Journals a run the sandbox service built itself after checking its task: the same record as
   * {@link record}, without the schema parse (~50 µs of every command) when
   * {@link runRecordFits} says it is within the limits; otherwise (an oversized command) it goes
   * through {@link record} and is refused the same way. `taskChecked`: the caller checked the task
   * when the command started, so it is not looked up again (a task deleted meanwhile has its
   * sandbox removed first, which ends the command before the task row and its journal go).
   */
  async recordRun(
    rec: ExecutionRecord,
    opts: { taskChecked?: boolean } = {},
  ): Promise<ExecutionRecord> {
    if (!runRecordFits(rec)) return this.record(rec);
    if (!opts.taskChecked) await this.lookup.get(rec.taskId);
    return this.store.record(rec);
  }

  async get(id: string): Promise<ExecutionRecord> {
    const rec = await this.store.get(id);
    if (!rec) throw new NotFoundError('execution', id);
    return rec;
  }

  async list(query: ExecutionQueryInput): Promise<ExecutionPage> {
    const q = parseOrThrow(executionQuerySchema, query);
    await this.lookup.get(q.taskId);
    return this.store.list(q);
  }
}
