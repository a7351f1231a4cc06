import { Module } from '@nestjs/common';
import { LocksModule } from '../locks/locks.module';
import { TasksService } from './tasks.service';

/** Task lifecycle. Needs TASK_REPOSITORY (PersistenceModule), CLOCK and HooksService (global). */
@Module({
  imports: [LocksModule],
  providers: [TasksService],
  exports: [TasksService],
})
export class TasksModule {}
