import { Module } from '@nestjs/common';
import { McpStdioCommand } from '../mcp/commands/mcp.command';
import { McpServeCommand } from '../mcp/commands/serve.command';
import { McpModule } from '../mcp/mcp.module';
import { TasksModule } from '../tasks/tasks.module';
import { CleanupTaskCommand } from './commands/cleanup-task.command';
import { CreateTaskCommand } from './commands/create-task.command';
import {
  CancelTaskCommand,
  CompleteTaskCommand,
  FailTaskCommand,
  ResumeTaskCommand,
  TaskStatusCommand,
} from './commands/lifecycle.commands';
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
  McpStdioCommand,
  McpServeCommand,
];

/** nest-commander command providers; composed with `OpenCodeToolsModule` by `src/cli.ts`. */
@Module({
  imports: [TasksModule, McpModule],
  providers: [...CLI_COMMANDS],
})
export class CliModule {}
