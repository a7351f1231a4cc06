import { Module } from '@nestjs/common';
import { TasksService } from './tasks.service';

/** Task lifecycle. Needs TASK_REPOSITORY (PersistenceModule), CLOCK and HooksService (global). */
@Module({
  providers: [TasksService],
  exports: [TasksService],
})
export class TasksModule {}
