/**
 * Public API for apps that embed OpenCode Tools.
 * @example
 * import { OpenCodeToolsModule, TasksService } from 'opencode-tools';
 */
export * from './opencode-tools.module';
export * from './config/options';
export { loadConfigFromEnv, ENV_VARS } from './config/env';
export * from './domain/errors';
export * from './domain/task';
export * from './domain/task.schema';
export { parseDuration } from './domain/duration';
export * from './ports';
export { TasksService, type TransitionOptions } from './modules/tasks/tasks.service';
export { TasksModule } from './modules/tasks/tasks.module';
export { HooksService } from './modules/hooks/hooks.service';
export { HooksModule } from './modules/hooks/hooks.module';
export { TaskHook } from './modules/hooks/task-hook.decorator';
export * from './modules/hooks/hook.types';
export { LocksModule } from './modules/locks/locks.module';
export {
  LockManager,
  type AcquireOptions,
  type RetryOptions,
  type WithLockOptions,
} from './modules/locks/lock-manager.service';
export {
  AgentAttachmentService,
  type Attachment,
  taskResource,
} from './modules/locks/agent-attachment.service';
export { LOCK_LIMITS } from './domain/lock';
export { createMemoryAdapters } from './adapters/memory';
export { openConfiguredPersistence } from './adapters/persistence-factory';
export { MetricsModule } from './modules/metrics/metrics.module';
export { MetricsService } from './modules/metrics/metrics.service';
export {
  HealthService,
  type HealthReport,
  type HealthCheck,
} from './modules/metrics/health.service';
export {
  LOCK_EVENTS,
  type LockConflictEvent,
  type LockWaitEvent,
} from './modules/locks/lock.events';
export { MCP_EVENTS, type McpCallEvent } from './modules/mcp/mcp.events';
export { DashboardModule } from './modules/dashboard/dashboard.module';
export { DashboardRoutes } from './modules/dashboard/dashboard.routes';
export { DashboardFeed, FEED_LIMITS } from './modules/dashboard/dashboard-feed.service';
