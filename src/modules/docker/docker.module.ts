import {
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { OPENCODE_OPTIONS, type OpenCodeToolsOptions } from '../../config/options';
import {
  SANDBOX_RUNTIME,
  type SandboxRuntime,
  type SandboxRuntimeFactory,
} from '../../ports/sandbox-runtime.port';
import { TASK_SANDBOX } from '../../ports/task-sandbox.port';
import { HistoryModule } from '../history/history.module';
import { LocksModule } from '../locks/locks.module';
import { TasksModule } from '../tasks/tasks.module';
import { lazySandboxRuntime } from './lazy-runtime';
import { LiveExecutionsService } from './live-executions.service';
import { ReconcilerService } from './reconciler.service';
import { WarmPoolService } from './warm-pool.service';
import { SandboxActivity } from './sandbox-activity.service';
import { SandboxAlerts } from './sandbox-alerts';
import { SandboxMonitorService } from './sandbox-monitor.service';
import { SandboxPlacementService } from './sandbox-placement.service';
import { SandboxService } from './sandbox.service';
import { SessionStateService } from './session-state.service';
import { TaskSandboxLifecycleService } from './task-sandbox.lifecycle';

export const SANDBOX_RUNTIME_FACTORY = Symbol('opencode-tools:SandboxRuntimeFactory');

@Injectable()
class SandboxRuntimeLifecycle implements OnApplicationShutdown {
  constructor(@Inject(SANDBOX_RUNTIME) private readonly runtime: SandboxRuntime) {}
  async onApplicationShutdown(): Promise<void> {
    await this.runtime.close();
  }
}

/**
 * Task sandboxes. The runtime comes from the factory the root module passes (Docker by default)
 * and is opened on first use, so importing this module loads no Docker client and contacts no
 * engine. Global so that the task lifecycle (TasksModule) reaches the `TASK_SANDBOX` seam.
 * Long-running processes call `ReconcilerService.startTimer()` and
 * `SandboxMonitorService.startTimer()`; nothing starts by itself.
 */
@Module({})
export class DockerModule {
  static forRoot(factory: SandboxRuntimeFactory): DynamicModule {
    return {
      module: DockerModule,
      global: true,
      imports: [TasksModule, LocksModule, HistoryModule],
      providers: [
        { provide: SANDBOX_RUNTIME_FACTORY, useValue: factory },
        {
          provide: SANDBOX_RUNTIME,
          useFactory: (f: SandboxRuntimeFactory, o: OpenCodeToolsOptions) =>
            lazySandboxRuntime(() => f(o)),
          inject: [SANDBOX_RUNTIME_FACTORY, OPENCODE_OPTIONS],
        },
        SandboxRuntimeLifecycle,
        SandboxActivity,
        SandboxAlerts,
        SandboxPlacementService,
        SandboxService,
        SessionStateService,
        LiveExecutionsService,
        WarmPoolService,
        TaskSandboxLifecycleService,
        { provide: TASK_SANDBOX, useExisting: TaskSandboxLifecycleService },
        ReconcilerService,
        SandboxMonitorService,
      ],
      exports: [
        SANDBOX_RUNTIME,
        SandboxPlacementService,
        SandboxService,
        LiveExecutionsService,
        WarmPoolService,
        TASK_SANDBOX,
        ReconcilerService,
        SandboxMonitorService,
        SandboxActivity,
      ],
    };
  }
}
