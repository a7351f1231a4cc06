import type { Logger } from 'typeorm';

/**
 * TypeORM's logger for our data sources. TypeORM's default console logger writes migration
 * messages to stdout whatever `logging` says: when two processes race to migrate a new database,
 * the loser's "Migration … failed" line (retried, then harmless) landed in the CLI's `--json`
 * output or between MCP frames. stdout is data, so nothing goes there. Failed queries and
 * migrations reach the caller as errors, so they are not logged twice; a slow query (only
 * reported when a threshold is configured) goes to stderr.
 */
export class QuietTypeormLogger implements Logger {
  logQuery(): void {}
  logQueryError(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
  logQuerySlow(time: number, query: string): void {
    process.stderr.write(`opencode-tools: slow query (${time} ms): ${query}\n`);
  }
}
