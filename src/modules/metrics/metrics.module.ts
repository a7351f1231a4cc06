import { Module } from '@nestjs/common';
import { TasksModule } from '../tasks/tasks.module';
import { HealthService } from './health.service';
import { MetricsService } from './metrics.service';

/**
 * Health checks and Prometheus metrics over the same services as everything else. Needs the
 * sandbox runtime (DockerModule, global; optional) and EventEmitter2. Starts nothing by itself:
 * `serve` calls `MetricsService.start()`.
 */
@Module({
  imports: [TasksModule],
  providers: [HealthService, MetricsService],
  exports: [HealthService, MetricsService],
})
export class MetricsModule {}
