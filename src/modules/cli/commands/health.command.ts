import { Command, Help, Option } from 'nest-commander';
import { EXIT_CODES } from '../../../domain/errors';
import {
  DEFAULT_MIN_FREE_DISK_BYTES,
  HealthService,
  type HealthCheck,
} from '../../metrics/health.service';
import { BaseCommand, parse, type BaseOptions } from '../base.command';
import { emit, table } from '../output';

interface Opts extends BaseOptions {
  minFreeDisk?: number;
}

const mib = (b: unknown) => `${Math.round(Number(b) / 1048576)} MiB`;

function detail(name: string, c: HealthCheck): string {
  if (c.status === 'down') return c.error ?? 'down';
  if (name === 'engine') return `${String(c.description)} (engine ${String(c.version)})`;
  if (name === 'database') return `${String(c.driver)}, ${String(c.tasks)} tasks`;
  return `${mib(c.freeBytes)} free of ${mib(c.totalBytes)} (${String(c.freePercent)}%) under ${String(c.path)}`;
}

/** `opencode-tools health`: engine, database, disk; exit 5 when any is down. */
@Command({
  name: 'health',
  description: 'check the sandbox engine, the database and free disk; exit 5 when one is down',
})
export class HealthCommand extends BaseCommand<Opts> {
  constructor(private readonly health: HealthService) {
    super();
  }

  protected async execute(_params: string[], o: Opts): Promise<void> {
    const report = await this.health.check({ minFreeDiskBytes: o.minFreeDisk });
    emit(!!o.json, report, () =>
      table(
        ['check', 'status', 'ms', 'detail'],
        Object.entries(report.checks).map(([name, c]) => [name, c.status, c.ms, detail(name, c)]),
      ),
    );
    if (report.status !== 'ok') {
      const down = Object.entries(report.checks)
        .filter(([, c]) => c.status === 'down')
        .map(([n]) => n);
      process.stderr.write(`unhealthy: ${down.join(', ')} down\n`);
      process.exitCode = EXIT_CODES.UNAVAILABLE;
    }
  }

  @Option({
    flags: '--min-free-disk <MiB>',
    description: `disk counts as down below this many MiB free in the data home (default ${DEFAULT_MIN_FREE_DISK_BYTES / 1048576})`,
  })
  parseMinFreeDisk(v: string) {
    return parse.int('--min-free-disk', v, 0) * 1048576;
  }

  @Help('after')
  examples() {
    return `
Examples:
  opencode-tools health
  opencode-tools health --json | jq .checks.engine
Exit codes: 0 all ok, 5 the engine, the database or the disk is down (each check times out after 3s).`;
  }
}
