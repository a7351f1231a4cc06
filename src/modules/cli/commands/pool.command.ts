import { Command, Help, Option } from 'nest-commander';
import { WarmPoolService, type PoolStatus } from '../../docker/warm-pool.service';
import { BaseCommand, parse, type BaseOptions } from '../base.command';
import { emit, table } from '../output';

interface PoolOpts extends BaseOptions {
  size?: number;
  fill?: boolean;
}

function format(s: PoolStatus): string {
  const head = `warm pool: ${s.size} per profile${s.size === 0 ? ' (off)' : ''}, at most ${s.max} in all, idle TTL ${Math.round(s.ttlMs / 1000)}s`;
  if (!s.profiles.length) return `${head}\nno warm sandboxes`;
  return `${head}\n${table(
    ['PROFILE', 'IMAGE', 'CPUS', 'MEMORY', 'PIDS', 'NETWORK', 'IDLE', 'CREATING'],
    s.profiles.map((p) => [
      p.profile,
      p.image,
      p.limits.cpus,
      `${p.limits.memoryMb}M`,
      p.limits.pids,
      p.network,
      p.idle,
      p.creating,
    ]),
  )}`;
}

@Command({
  name: 'pool',
  description: 'show the warm sandbox pool; --size changes it for every process on this database',
})
export class PoolCommand extends BaseCommand<PoolOpts> {
  constructor(private readonly pool: WarmPoolService) {
    super();
  }

  protected async execute(_: string[], o: PoolOpts): Promise<void> {
    if (o.size !== undefined) await this.pool.resize(o.size);
    if (o.fill) await this.pool.fill();
    const s = await this.pool.status();
    emit(!!o.json, s, () => format(s));
  }

  @Option({
    flags: '--size <n>',
    description:
      'idle sandboxes to keep per profile (0 = off; removes surplus idle ones now; running servers refill)',
  })
  parseSize(v: string) {
    return parse.int('--size', v);
  }
  @Option({
    flags: '--fill',
    description: 'create the missing warm sandboxes now, in this process (default profile)',
  })
  parseFill() {
    return true;
  }
  @Help('after')
  examples() {
    return `
Warm sandboxes are created, started and hardened ahead of time; create-task / create_task_sandbox
claims one that fits the task's sandbox profile (image, limits, network, env, workdir; never with
host mounts) instead of creating one. serve and mcp keep the pool filled (OPENCODE_WARM_POOL per
profile, OPENCODE_WARM_POOL_MAX in all) and remove members idle past OPENCODE_WARM_POOL_TTL.

Examples:
  opencode-tools pool
  opencode-tools pool --size 2 --fill
  opencode-tools pool --size 0          # off; idle warm sandboxes are removed`;
  }
}
