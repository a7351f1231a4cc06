import { Module } from '@nestjs/common';
import { HistoryModule } from '../history/history.module';
import { LocksModule } from '../locks/locks.module';
import { TasksModule } from '../tasks/tasks.module';
import { MCP_TOOL_PROVIDERS } from './mcp-tool';
import { McpToolRegistry } from './mcp-tool.registry';
import { HistoryTools } from './tools/history.tools';
import { LockTools } from './tools/locks.tools';
import { TaskLifecycleTools } from './tools/task-lifecycle.tools';
import { TaskQueryTools } from './tools/task-query.tools';

/** Tool providers, in the order their tools are listed. */
const TOOL_PROVIDERS = [TaskLifecycleTools, TaskQueryTools, LockTools, HistoryTools];

/**
 * The MCP tools as ordinary injectables, and the registry that turns them into SDK servers.
 * Importing this module loads no MCP SDK code; transports import it on demand.
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
  ],
  exports: [McpToolRegistry],
})
export class McpModule {}
