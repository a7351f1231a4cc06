import { ConsoleLogger, type LogLevel } from '@nestjs/common';

/** Nest's console logger, but every level goes to stderr: stdout is reserved for data and MCP frames. */
export class StderrLogger extends ConsoleLogger {
  protected override printMessages(
    messages: unknown[],
    context?: string,
    logLevel?: LogLevel,
    _writeStreamType?: 'stdout' | 'stderr',
    errorStack?: unknown,
  ): void {
    super.printMessages(messages, context, logLevel, 'stderr', errorStack);
  }
}
