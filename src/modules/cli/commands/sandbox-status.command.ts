import { Command, Help, Option } from 'nest-commander';
import { SandboxService, type SandboxStatus } from '../../docker/sandbox.service';
import { BaseCommand, taskIdFrom, type BaseOptions } from '../base.command';
import { emit } from '../output';

interface Opts extends BaseOptions {
  task?: string;
}

const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;

/** Human lines for a sandbox status (also appended by `task-status`). */
export function formatSandboxStatus(s: SandboxStatus): string {
  const i = s.sandbox;
  if (!i) return `task ${s.taskId} has no sandbox on the engine`;
  const rows: [string, unknown][] = [
    ['container', `${i.name} (${i.containerId.slice(0, 12)})`],
    ['image', i.image],
    ['state', i.state + (i.oomKilled ? ' (OOM-killed)' : '')],
    ['limits', `${i.limits.cpus} CPU, ${i.limits.memoryMb} MiB, ${i.limits.pids} pids`],
    ['network', i.network ?? 'none'],
    ['volume', `${i.volume} at /workspace`],
    ['started', i.startedAt],
    ['finished', i.finishedAt],
  ];
  if (s.stats) {
    const t = s.stats;
    rows.push(
      ['cpu', `${t.cpuPercent}%`],
      ['memory', `${mib(t.memoryBytes)} of ${mib(t.memoryLimitBytes)} (${t.memoryPercent}%)`],
      ['pids', `${t.pids}${t.pidsLimit ? ` of ${t.pidsLimit}` : ''}`],
      ['network io', `rx ${t.netRxBytes} B, tx ${t.netTxBytes} B`],
    );
  }
  return rows
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k.padEnd(12)}${String(v)}`)
    .join('\n');
}

@Command({
  name: 'sandbox-status',
  arguments: '[task]',
  description: "show a task's sandbox: container state, limits and a resource sample",
})
export class SandboxStatusCommand extends BaseCommand<Opts> {
  constructor(private readonly sandboxes: SandboxService) {
    super();
  }

  protected async execute(params: string[], o: Opts): Promise<void> {
    const status = await this.sandboxes.status(taskIdFrom(params, o), { stats: true });
    emit(!!o.json, status, () => formatSandboxStatus(status));
  }

  @Option({ flags: '--task <id>', description: 'task id (or give it as the argument)' })
  parseTask(v: string) {
    return v;
  }
  @Help('after')
  examples() {
    return '\nExample:\n  opencode-tools sandbox-status --task tsk_01j… --json';
  }
}
