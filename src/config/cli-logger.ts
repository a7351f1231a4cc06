import { ConsoleLogger, type LogLevel } from '@nestjs/common';

/**
 * The CLI's logger: Nest's console logger, but every level goes to stderr (stdout is reserved for
 * data and MCP frames). A command that fails while the app is being built (an unreachable
 * database, a schema newer than this code…) is reported once by the CLI, as `error: …` or as the
 * `--json` error object, and not also as Nest's `[ExceptionHandler]` stack trace before it.
 */
export class CliLogger extends ConsoleLogger {
  override error(message: unknown, ...rest: unknown[]): void {
    if (rest[rest.length - 1] === 'ExceptionHandler') return;
    super.error(message, ...rest);
  }

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
