import { Module } from '@nestjs/common';
import { McpStdioCommand } from '../mcp/commands/mcp.command';
import { McpServeCommand } from '../mcp/commands/serve.command';
import { McpModule } from '../mcp/mcp.module';
import { DashboardModule } from '../dashboard/dashboard.module';
import { MetricsModule } from '../metrics/metrics.module';
import { LocksModule } from '../locks/locks.module';
import { HistoryModule } from '../history/history.module';
import { TasksModule } from '../tasks/tasks.module';
import { CHECKPOINT_COMMANDS } from './commands/checkpoint.commands';
import { CleanupTaskCommand } from './commands/cleanup-task.command';
import { CreateTaskCommand } from './commands/create-task.command';
import { ExecCommand } from './commands/exec.command';
import { EXEC_CONTROL_COMMANDS } from './commands/exec-control.commands';
import { HealthCommand } from './commands/health.command';
import { MetricsCommand } from './commands/metrics.command';
import { PullProgressListener } from './commands/pull-progress.listener';
import { PoolCommand } from './commands/pool.command';
import { ReconcileCommand } from './commands/reconcile.command';
import { SandboxStatusCommand } from './commands/sandbox-status.command';
import { HISTORY_COMMANDS } from './commands/history.commands';
import {
  CancelTaskCommand,
  CompleteTaskCommand,
  FailTaskCommand,
  ResumeTaskCommand,
  TaskStatusCommand,
} from './commands/lifecycle.commands';
import { LOCK_COMMANDS } from './commands/lock.commands';
import { MigrateCommand } from './commands/migrate.command';
import { TRANSFER_COMMANDS } from './commands/transfer.commands';
import { TransferModule } from '../transfer/transfer.module';
import { FindTaskCommand, ListTasksCommand, TaskStatsCommand } from './commands/query.commands';

export const CLI_COMMANDS = [
  CreateTaskCommand,
  ResumeTaskCommand,
  CompleteTaskCommand,
  FailTaskCommand,
  CancelTaskCommand,
  TaskStatusCommand,
  ListTasksCommand,
  FindTaskCommand,
  TaskStatsCommand,
  CleanupTaskCommand,
  ...CHECKPOINT_COMMANDS,
  ...HISTORY_COMMANDS,
  ...LOCK_COMMANDS,
  McpStdioCommand,
  McpServeCommand,
  ExecCommand,
  ...EXEC_CONTROL_COMMANDS,
  ReconcileCommand,
  PoolCommand,
  SandboxStatusCommand,
  MigrateCommand,
  ...TRANSFER_COMMANDS,
  HealthCommand,
  MetricsCommand,
];

/** nest-commander command providers; composed with `OpenCodeToolsModule` by `src/cli.ts`. */
@Module({
  imports: [
    TasksModule,
    HistoryModule,
    McpModule,
    LocksModule,
    TransferModule,
    MetricsModule,
    DashboardModule,
  ],
  providers: [...CLI_COMMANDS, PullProgressListener],
})
export class CliModule {}
