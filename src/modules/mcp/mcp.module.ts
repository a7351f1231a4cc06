import { Module } from '@nestjs/common';
import { HistoryModule } from '../history/history.module';
import { LocksModule } from '../locks/locks.module';
import { TasksModule } from '../tasks/tasks.module';
import { ServerBackgroundWork } from './commands/background-work';
import { MCP_TOOL_PROVIDERS } from './mcp-tool';
import { McpToolRegistry } from './mcp-tool.registry';
import { HistoryTools } from './tools/history.tools';
import { LockTools } from './tools/locks.tools';
import { SandboxTools } from './tools/sandbox.tools';
import { TaskLifecycleTools } from './tools/task-lifecycle.tools';
import { TaskQueryTools } from './tools/task-query.tools';

/** Tool providers, in the order their tools are listed. */
const TOOL_PROVIDERS = [TaskLifecycleTools, TaskQueryTools, SandboxTools, LockTools, HistoryTools];

/**
 * The MCP tools as ordinary injectables, and the registry that turns them into SDK servers.
 * SandboxTools reach the Docker module through its global exports; a provider whose service is
 * absent contributes no tools. Importing this module loads no MCP SDK code.
 */
@Module({
  imports: [TasksModule, LocksModule, HistoryModule],
  providers: [
    ...TOOL_PROVIDERS,
    {
      provide: MCP_TOOL_PROVIDERS,
      useFactory: (...providers: unknown[]) => providers,
      inject: TOOL_PROVIDERS,
    },
    McpToolRegistry,
    ServerBackgroundWork,
  ],
  exports: [McpToolRegistry, ServerBackgroundWork],
})
export class McpModule {}
