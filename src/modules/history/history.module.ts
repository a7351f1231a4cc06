import { Module } from '@nestjs/common';
import { LocksModule } from '../locks/locks.module';
import { TasksModule } from '../tasks/tasks.module';
import { CheckpointsService } from './checkpoints.service';
import { DecisionsService } from './decisions.service';
import { ExecutionsService } from './executions.service';
import { HistoryHooks } from './history-hooks';
import { TaskLogService } from './task-log.service';
import { TaskLookup } from './task-lookup';
import { TaskStateService } from './task-state.service';

export const HISTORY_SERVICES = [
  TaskStateService,
  TaskLogService,
  DecisionsService,
  ExecutionsService,
  CheckpointsService,
];

/**
 * Task memory: state, logs, decisions, executions, checkpoints. Needs the persistence ports
 * (PersistenceModule, global), CLOCK and HooksService (global), TasksService (for forks) and
 * AgentAttachmentService (an agent named on a checkpoint or restore must be attached). The
 * sandbox filesystem joins checkpoints when a provider of `SANDBOX_SNAPSHOTTER` is visible here.
 */
@Module({
  imports: [TasksModule, LocksModule],
  providers: [TaskLookup, ...HISTORY_SERVICES, HistoryHooks],
  exports: HISTORY_SERVICES,
})
export class HistoryModule {}
