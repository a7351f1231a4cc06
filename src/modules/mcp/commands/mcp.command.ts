import { Command, Help } from 'nest-commander';
import { BaseCommand, type BaseOptions } from '../../cli/base.command';
import { McpToolRegistry } from '../mcp-tool.registry';
import { ServerBackgroundWork } from './background-work';

/** `opencode-tools mcp`: MCP over stdio, for clients that spawn the server. */
@Command({
  name: 'mcp',
  description: 'serve MCP over stdio (protocol on stdout, logs on stderr)',
})
export class McpStdioCommand extends BaseCommand {
  constructor(
    private readonly registry: McpToolRegistry,
    private readonly background: ServerBackgroundWork,
  ) {
    super();
  }

  protected async execute(_params: string[], _o: BaseOptions): Promise<void> {
    // Loaded here so other commands never pay for the MCP SDK.
    const { serveStdio, routeConsoleToStderr } = await import('../transports/stdio.transport');
    const restoreConsole = routeConsoleToStderr();
    const stdio = await serveStdio(this.registry);
    this.background.start();
    const onSignal = () => void stdio.stop(30_000);
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    try {
      await stdio.closed;
    } finally {
      this.background.stop();
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      restoreConsole();
    }
  }

  @Help('after')
  examples() {
    return `
Example (Claude Code):
  claude mcp add opencode-tools -- npx opencode-tools mcp`;
  }
}
