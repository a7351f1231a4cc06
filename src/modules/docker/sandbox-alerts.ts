import { Inject, Injectable } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { TASK_REPOSITORY, type TaskRepository } from '../../ports/task-repository.port';
import { HooksService } from '../hooks/hooks.service';
import { SANDBOX_EVENTS, type SandboxAlert } from './sandbox.events';

/**
 * Publishes a sandbox alert to plain listeners (`opencode.sandbox.alert` on EventEmitter2) and to
 * lifecycle hooks (`afterSandboxAlert`, so command hooks in the hook file receive it too, with the
 * alert as `input`). Hook failures are logged by the hooks service, never thrown.
 */
@Injectable()
export class SandboxAlerts {
  constructor(
    private readonly events: EventEmitter2,
    private readonly hooks: HooksService,
    @Inject(TASK_REPOSITORY) private readonly tasks: TaskRepository,
  ) {}

  async raise(alert: SandboxAlert): Promise<void> {
    this.events.emit(SANDBOX_EVENTS.alert, alert);
    const task = await this.tasks.findById(alert.taskId).catch(() => null);
    if (task) {
      await this.hooks.runAfter('afterSandboxAlert', {
        task,
        input: alert as unknown as Record<string, unknown>,
      });
    }
  }
}
