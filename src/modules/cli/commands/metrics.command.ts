import { Command, Help } from 'nest-commander';
import { MetricsService } from '../../metrics/metrics.service';
import { BaseCommand, type BaseOptions } from '../base.command';

/**
 * `opencode-tools metrics`: the Prometheus exposition this process can compute (tasks by status,
 * sandboxes, engine up). Counters and histograms (execs, locks, MCP calls, reconciler) live in a
 * running `serve`: scrape its /metrics for those.
 */
@Command({
  name: 'metrics',
  description: 'print metrics in Prometheus text format (tasks by status, sandboxes, engine up)',
})
export class MetricsCommand extends BaseCommand {
  constructor(private readonly metrics: MetricsService) {
    super();
  }

  protected async execute(_params: string[], o: BaseOptions): Promise<void> {
    if (o.json) {
      process.stdout.write(`${JSON.stringify({ metrics: await this.metrics.json() }, null, 2)}\n`);
      return;
    }
    process.stdout.write((await this.metrics.render()).text);
  }

  @Help('after')
  examples() {
    return `
Examples:
  opencode-tools metrics
  opencode-tools metrics --json
Counters of a running server (exec latency, lock waits, MCP calls, reconciler actions) are at
http://127.0.0.1:3000/metrics of 'opencode-tools serve'; this command starts from zero.`;
  }
}
