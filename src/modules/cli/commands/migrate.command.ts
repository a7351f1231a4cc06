import { Inject } from '@nestjs/common';
import { Command, Help } from 'nest-commander';
import {
  PERSISTENCE_ADAPTERS,
  type PersistenceAdapters,
} from '../../../ports/persistence-adapters.port';
import { BaseCommand, type BaseOptions } from '../base.command';
import { emit } from '../output';

/**
 * Opening the configured database already brings its schema up to date (under a lock, so several
 * processes starting at once migrate exactly once); this command does only that and reports it.
 */
@Command({
  name: 'migrate',
  description: 'bring the configured database schema up to date and show the applied migrations',
})
export class MigrateCommand extends BaseCommand {
  constructor(@Inject(PERSISTENCE_ADAPTERS) private readonly storage: PersistenceAdapters) {
    super();
  }

  protected async execute(_: string[], o: BaseOptions): Promise<void> {
    const migrations = [...(this.storage.migrations ?? [])];
    emit(!!o.json, { database: this.storage.description, migrations }, () =>
      [
        `database    ${this.storage.description}`,
        `schema      up to date (${migrations.length} migrations)`,
        ...migrations.map((m) => `  ${m}`),
      ].join('\n'),
    );
  }

  @Help('after')
  examples() {
    return `
Migrations also run automatically whenever a command or server opens the database.

Examples:
  opencode-tools migrate
  OPENCODE_DATABASE_URL=postgres://agents@db:5432/agents opencode-tools migrate --json`;
  }
}
