import { Module, type DynamicModule } from '@nestjs/common';
import type { Command as CommanderCommand } from 'commander';
import { CommandFactory } from 'nest-commander';
import { Commander } from 'nest-commander/src/constants';
import { loadConfigFromEnv } from './config/env';
import { ENV_VARS } from './config/env';
import { CliLogger } from './config/cli-logger';
import { EXIT_CODES } from './domain/errors';
import { CliModule } from './modules/cli/cli.module';
import { reportError } from './modules/cli/output';
import { OpenCodeToolsModule } from './opencode-tools.module';

@Module({})
class CliRootModule {}

const ENV_WIDTH = Math.max(...Object.keys(ENV_VARS).map((k) => k.length)) + 2;

const HELP_FOOTER = `
Environment:
${Object.entries(ENV_VARS)
  .map(([k, v]) => `  ${k.padEnd(ENV_WIDTH)}${v}`)
  .join('\n')}

Exit codes:
  0 ok, 1 unexpected error, 2 usage or validation error, 3 not found,
  4 conflict (lock held, version mismatch, illegal transition), 5 sandbox engine or database unavailable,
  6 vetoed by a hook
`;

/** commander's own errors (bad flags, missing arguments); --help and --version arrive with 0. */
function onCommanderExit(err: Error): never {
  process.exitCode =
    (err as { exitCode?: number }).exitCode === 0 ? EXIT_CODES.OK : EXIT_CODES.USAGE;
  throw err;
}

function isCommanderError(err: unknown): boolean {
  return String((err as { code?: unknown })?.code ?? '').startsWith('commander.');
}

/** Runs the CLI for `argv` and resolves with the exit code; never calls process.exit itself. */
export async function runCli(argv: string[] = process.argv): Promise<number> {
  const json = argv.includes('--json');
  try {
    const options = loadConfigFromEnv(process.env);
    const root: DynamicModule = {
      module: CliRootModule,
      imports: [OpenCodeToolsModule.forRoot(options), CliModule],
    };
    process.argv = argv;
    const app = await CommandFactory.createWithoutRunning(root, {
      cliName: 'opencode-tools',
      abortOnError: false,
      logger: new CliLogger('opencode-tools', { logLevels: ['error', 'warn'] }),
      errorHandler: onCommanderExit,
      // Errors thrown by option parsers (e.g. malformed --metadata JSON) arrive here.
      // commander's own errors also come through here after errorHandler has set the exit code.
      serviceErrorHandler: (err) => {
        if (!isCommanderError(err)) reportError(err, json);
      },
      outputConfiguration: { writeErr: (s) => process.stderr.write(s) },
      version: (require('../package.json') as { version: string }).version,
    });
    try {
      const program = app.get<CommanderCommand>(Commander);
      program.name('opencode-tools').addHelpText('after', HELP_FOOTER);
      // nest-commander sets exitOverride on the root only; subcommands would otherwise process.exit(1).
      for (const sub of program.commands) sub.exitOverride(onCommanderExit);
      await CommandFactory.runApplication(app);
    } finally {
      await app.close();
    }
  } catch (err) {
    reportError(err, json);
  }
  return Number(process.exitCode ?? 0);
}
