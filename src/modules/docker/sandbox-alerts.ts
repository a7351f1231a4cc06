import { Inject, Injectable, Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { TASK_REPOSITORY, type TaskRepository } from '../../ports/task-repository.port';
import { TaskLogService } from '../history/task-log.service';
import { HooksService } from '../hooks/hooks.service';
import { SandboxActivity } from './sandbox-activity.service';
import { SANDBOX_EVENTS, type SandboxAlert } from './sandbox.events';

/**
 * Publishes a sandbox alert to plain listeners (`opencode.sandbox.alert` on EventEmitter2) and to
 * lifecycle hooks (`afterSandboxAlert`, so command hooks in the hook file receive it too, with the
 * alert as `input`), and keeps it: a durable activity record (the dashboard's system view, any
 * process) and a warn line in the task's log. Hook and record failures are logged, never thrown.
 */
@Injectable()
export class SandboxAlerts {
  private readonly logger = new Logger('SandboxAlerts');

  constructor(
    private readonly events: EventEmitter2,
    private readonly hooks: HooksService,
    @Inject(TASK_REPOSITORY) private readonly tasks: TaskRepository,
    private readonly activity: SandboxActivity,
    private readonly logs: TaskLogService,
  ) {}

  async raise(alert: SandboxAlert): Promise<void> {
    this.events.emit(SANDBOX_EVENTS.alert, alert);
    await this.activity.recordAlert(alert);
    const task = await this.tasks.findById(alert.taskId).catch(() => null);
    if (task) {
      await this.logs
        .write(task.id, 'warn', alert.message, { alert: alert.kind, stats: alert.stats })
        .catch((err: Error) => this.logger.warn(`alert not logged: ${err.message}`));
      await this.hooks.runAfter('afterSandboxAlert', {
        task,
        input: alert as unknown as Record<string, unknown>,
      });
    }
  }
}
