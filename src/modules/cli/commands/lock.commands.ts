import { Injectable } from '@nestjs/common';
import { Command, Help, Option } from 'nest-commander';
import type { LockGrant } from '../../../domain/lock';
import { AgentAttachmentService, type Attachment } from '../../locks/agent-attachment.service';
import { LockManager } from '../../locks/lock-manager.service';
import { BaseCommand, parse, taskIdFrom, type BaseOptions } from '../base.command';
import { emit, table } from '../output';

interface AgentOpts extends BaseOptions {
  task?: string;
  agent?: string;
  ttl?: number;
  wait?: number;
}

const seconds = (ms: number) => (ms % 1000 ? `${ms}ms` : `${ms / 1000}s`);

function until(iso: string): string {
  const left = Date.parse(iso) - Date.now();
  return `${iso} (in ${left >= 1000 ? `${(left / 1000).toFixed(1)}s` : `${Math.max(0, left)}ms`})`;
}

const describeAttachment = (verb: string, a: Attachment) =>
  `${verb} agent ${a.agentId} ${verb === 'detached' ? 'from' : 'to'} task ${a.taskId} (${a.mode}, token ${a.token})` +
  (verb === 'detached' ? '' : `, lease ${seconds(a.ttlMs)} until ${until(a.expiresAt)}`);

/** `--task` and `--agent`, shared by the attachment commands. */
@Injectable()
abstract class AgentCommand extends BaseCommand<AgentOpts> {
  constructor(protected readonly agents: AgentAttachmentService) {
    super();
  }
  protected ids(params: string[], o: AgentOpts): [string, string] {
    return [taskIdFrom(params, o), o.agent ?? (params[1] as string)];
  }
  @Option({ flags: '--task <id>', description: 'task id (or the first argument)' })
  parseTask(v: string) {
    return v;
  }
  @Option({ flags: '--agent <id>', description: 'agent id (or the second argument)' })
  parseAgent(v: string) {
    return v;
  }
}

@Command({
  name: 'attach-agent',
  arguments: '[task] [agent]',
  description:
    'lease a task to an agent (one at a time if the task is exclusive, many if collaborative); exit 4 naming the holder if it is taken',
})
export class AttachAgentCommand extends AgentCommand {
  protected async execute(params: string[], o: AgentOpts) {
    const [task, agent] = this.ids(params, o);
    const a = await this.agents.attach(task, agent, { ttlMs: o.ttl, waitMs: o.wait });
    emit(!!o.json, a, () => describeAttachment('attached', a));
  }
  @Option({
    flags: '--ttl <duration>',
    description: 'lease length, 100ms-24h (default 30s); renew with heartbeat or any action',
  })
  parseTtl(v: string) {
    return parse.duration('--ttl', v);
  }
  @Option({
    flags: '--wait <duration>',
    description:
      'if taken, retry with backoff for up to this long (max 10m; default: fail at once)',
  })
  parseWait(v: string) {
    return parse.duration('--wait', v);
  }
  @Help('after')
  examples() {
    return `
Examples:
  opencode-tools attach-agent --task tsk_01j… --agent claude-1 --ttl 2m
  opencode-tools attach-agent --task tsk_01j… --agent claude-2 --wait 10s --json
Exit 4 (LOCK_HELD) names the holder and when its lease expires.`;
  }
}

@Command({
  name: 'detach',
  arguments: '[task] [agent]',
  description: "end an agent's attachment to a task",
})
export class DetachCommand extends AgentCommand {
  protected async execute(params: string[], o: AgentOpts) {
    const [task, agent] = this.ids(params, o);
    const a = await this.agents.detach(task, agent);
    emit(!!o.json, a, () => describeAttachment('detached', a));
  }
  @Help('after')
  examples() {
    return '\nExample:\n  opencode-tools detach --task tsk_01j… --agent claude-1';
  }
}

@Command({
  name: 'heartbeat',
  arguments: '[task] [agent]',
  description: "renew an agent's lease on a task (exit 4 if it already expired or was taken)",
})
export class HeartbeatCommand extends AgentCommand {
  protected async execute(params: string[], o: AgentOpts) {
    const [task, agent] = this.ids(params, o);
    const a = await this.agents.heartbeat(task, agent, { ttlMs: o.ttl });
    emit(!!o.json, a, () => describeAttachment('renewed', a));
  }
  @Option({
    flags: '--ttl <duration>',
    description: "new lease length, 100ms-24h (default: the attachment's)",
  })
  parseTtl(v: string) {
    return parse.duration('--ttl', v);
  }
  @Help('after')
  examples() {
    return '\nExample:\n  opencode-tools heartbeat --task tsk_01j… --agent claude-1 --ttl 1m';
  }
}

interface LocksOpts extends BaseOptions {
  task?: string;
  agent?: string;
}

function formatLocks(grants: LockGrant[]): string {
  if (!grants.length) return 'no live locks';
  return table(
    ['RESOURCE', 'HOLDER', 'MODE', 'TOKEN', 'COUNT', 'TTL', 'EXPIRES'],
    grants.map((g) => [
      g.resource,
      g.holder,
      g.mode,
      g.token,
      g.count,
      seconds(g.ttlMs),
      until(g.expiresAt),
    ]),
  );
}

@Command({
  name: 'locks',
  description: 'list live locks and attachments: holder, mode, fencing token, expiry',
})
export class LocksCommand extends BaseCommand<LocksOpts> {
  constructor(private readonly locks: LockManager) {
    super();
  }
  protected async execute(_: string[], o: LocksOpts) {
    const grants = await this.locks.listLocks({
      resource: o.task === undefined ? undefined : `task:${o.task}`,
      holder: o.agent,
    });
    emit(!!o.json, grants, () => formatLocks(grants));
  }
  @Option({ flags: '--task <id>', description: "only this task's attachments" })
  parseTask(v: string) {
    return v;
  }
  @Option({ flags: '--agent <id>', description: 'only this holder' })
  parseAgent(v: string) {
    return v;
  }
  @Help('after')
  examples() {
    return '\nExamples:\n  opencode-tools locks\n  opencode-tools locks --task tsk_01j… --json';
  }
}

export const LOCK_COMMANDS = [AttachAgentCommand, DetachCommand, HeartbeatCommand, LocksCommand];
