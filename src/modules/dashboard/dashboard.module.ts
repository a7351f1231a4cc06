import { Module } from '@nestjs/common';
import { HistoryModule } from '../history/history.module';
import { LocksModule } from '../locks/locks.module';
import { MetricsModule } from '../metrics/metrics.module';
import { TasksModule } from '../tasks/tasks.module';
import { DashboardApi } from './dashboard-api.service';
import { DashboardFeed } from './dashboard-feed.service';
import { DashboardRoutes } from './dashboard.routes';

/**
 * The web dashboard `serve` puts on its port: static page, JSON API and one change feed, all over
 * the same services as the CLI and MCP. Importing it starts nothing; the feed subscribes when
 * `serve` starts it or the first viewer connects.
 */
@Module({
  imports: [TasksModule, HistoryModule, LocksModule, MetricsModule],
  providers: [DashboardApi, DashboardFeed, DashboardRoutes],
  exports: [DashboardRoutes, DashboardFeed],
})
export class DashboardModule {}
