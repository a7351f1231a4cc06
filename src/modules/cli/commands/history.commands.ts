import { Injectable } from '@nestjs/common';
import { Command, Help, Option } from 'nest-commander';
import { ValidationError } from '../../../domain/errors';
import type { LogLevel, LogQueryInput } from '../../../domain/history';
import { DecisionsService } from '../../history/decisions.service';
import { ExecutionsService } from '../../history/executions.service';
import { TaskLogService } from '../../history/task-log.service';
import { BaseCommand, parse, taskIdFrom, type BaseOptions } from '../base.command';
import {
  corruptWarning,
  formatDecisions,
  formatExecutions,
  formatLogRecord,
  toInstant,
} from '../history-format';
import { emit } from '../output';

interface TaskOpts extends BaseOptions {
  task?: string;
  agent?: string;
  since?: string;
  until?: string;
  limit?: number;
  offset?: number;
}

/** `--task`, `--agent`, time range and paging, shared by the history readers. */
@Injectable()
abstract class HistoryCommand<O extends TaskOpts> extends BaseCommand<O> {
  @Option({ flags: '--task <id>', description: 'task id (or give it as the argument)' })
  parseTask(v: string) {
    return v;
  }
  @Option({ flags: '--since <when>', description: 'from: ISO date-time, or a duration ago (2h)' })
  parseSince(v: string) {
    return toInstant('--since', v);
  }
  @Option({ flags: '--until <when>', description: 'to: ISO date-time, or a duration ago' })
  parseUntil(v: string) {
    return toInstant('--until', v);
  }
  @Option({ flags: '--limit <n>', description: 'page size' })
  parseLimit(v: string) {
    return parse.int('--limit', v, 1);
  }
  @Option({ flags: '--offset <n>', description: 'skip this many matches (default 0)' })
  parseOffset(v: string) {
    return parse.int('--offset', v, 0);
  }
}

interface HistoryOpts extends TaskOpts {
  level?: string;
  grep?: string;
  tail?: number;
  follow?: boolean;
  rewound?: boolean;
}

@Command({
  name: 'task-history',
  arguments: '[task]',
  description:
    "read a task's log: filter by level, time and text; --tail N; --follow for new entries",
})
export class TaskHistoryCommand extends HistoryCommand<HistoryOpts> {
  constructor(private readonly logs: TaskLogService) {
    super();
  }

  protected async execute(params: string[], o: HistoryOpts) {
    const taskId = taskIdFrom(params, o);
    const query: LogQueryInput = {
      level: o.level as LogLevel | undefined,
      since: o.since,
      until: o.until,
      text: o.grep,
      offset: o.offset,
      limit: o.limit,
      tail: o.tail,
      includeRewound: o.rewound !== false,
    };
    if (o.follow) return this.follow(taskId, query, !!o.json);
    const r = await this.logs.read(taskId, query);
    for (const c of r.corrupt) process.stderr.write(corruptWarning(c));
    emit(!!o.json, r, () =>
      r.entries.length ? r.entries.map(formatLogRecord).join('\n') : 'no log entries',
    );
  }

  /** Streams until Ctrl-C; with --json, one JSON object per line. */
  private async follow(taskId: string, query: LogQueryInput, json: boolean) {
    if (query.tail === undefined && query.offset === undefined) query.tail = 20;
    const ac = new AbortController();
    const stop = () => ac.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      for await (const e of this.logs.follow(taskId, query, {
        signal: ac.signal,
        onCorrupt: (c) => process.stderr.write(corruptWarning(c)),
        onError: (err) =>
          process.stderr.write(
            `opencode-tools: reading the log failed, retrying: ${err.message}\n`,
          ),
      })) {
        process.stdout.write(`${json ? JSON.stringify(e) : formatLogRecord(e)}\n`);
      }
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  }

  @Option({ flags: '--level <level>', description: 'minimum level: debug, info, warn, error' })
  parseLevel(v: string) {
    return v;
  }
  @Option({ flags: '--grep <text>', description: 'case-insensitive text in the message or data' })
  parseGrep(v: string) {
    return v;
  }
  @Option({ flags: '--tail <n>', description: 'only the last N matching entries' })
  parseTail(v: string) {
    return parse.int('--tail', v, 1);
  }
  @Option({
    flags: '--follow',
    description: 'keep printing new entries until Ctrl-C (default --tail 20)',
  })
  parseFollow() {
    return true;
  }
  @Option({ flags: '--no-rewound', description: 'hide entries rewound by a checkpoint restore' })
  parseNoRewound() {
    return false;
  }
  @Help('after')
  examples() {
    return `
Examples:
  opencode-tools task-history --task tsk_01j… --tail 100
  opencode-tools task-history tsk_01j… --level warn --since 2h --grep timeout --json
  opencode-tools task-history tsk_01j… --follow`;
  }
}

interface ExecOpts extends TaskOpts {
  failed?: boolean;
}

@Command({
  name: 'task-executions',
  arguments: '[task]',
  description: 'the commands run in a task: exit code, duration, output sizes (newest first)',
})
export class TaskExecutionsCommand extends HistoryCommand<ExecOpts> {
  constructor(private readonly executions: ExecutionsService) {
    super();
  }
  protected async execute(params: string[], o: ExecOpts) {
    const page = await this.executions.list({
      taskId: taskIdFrom(params, o),
      agentId: o.agent,
      since: o.since,
      until: o.until,
      failedOnly: !!o.failed,
      limit: o.limit,
      offset: o.offset,
    });
    emit(!!o.json, page, () => formatExecutions(page.items, page.total, page.offset));
  }
  @Option({ flags: '--agent <id>', description: 'only this agent' })
  parseAgent(v: string) {
    return v;
  }
  @Option({ flags: '--failed', description: 'only non-zero exits and timeouts' })
  parseFailed() {
    return true;
  }
  @Help('after')
  examples() {
    return `
Examples:
  opencode-tools task-executions --task tsk_01j… --failed
  opencode-tools task-executions tsk_01j… --agent claude --limit 10 --json`;
  }
}

@Command({
  name: 'task-decisions',
  arguments: '[task]',
  description: 'the decisions agents recorded in a task (oldest first)',
})
export class TaskDecisionsCommand extends HistoryCommand<TaskOpts> {
  constructor(private readonly decisions: DecisionsService) {
    super();
  }
  protected async execute(params: string[], o: TaskOpts) {
    const page = await this.decisions.list({
      taskId: taskIdFrom(params, o),
      agentId: o.agent,
      since: o.since,
      until: o.until,
      limit: o.limit,
      offset: o.offset,
    });
    emit(!!o.json, page, () => formatDecisions(page.items, page.total, page.offset));
  }
  @Option({ flags: '--agent <id>', description: 'only this agent' })
  parseAgent(v: string) {
    return v;
  }
  @Help('after')
  examples() {
    return `
Examples:
  opencode-tools task-decisions --task tsk_01j…
  opencode-tools task-decisions tsk_01j… --agent claude --since 1d --json`;
  }
}

interface RecordOpts extends BaseOptions {
  task?: string;
  agent?: string;
  decision?: string;
  reasoning?: string;
  metadata?: Record<string, unknown>;
}

@Command({
  name: 'record-decision',
  arguments: '[task]',
  description: 'record an agent decision and its reasoning in a task',
})
export class RecordDecisionCommand extends BaseCommand<RecordOpts> {
  constructor(private readonly decisions: DecisionsService) {
    super();
  }
  protected async execute(params: string[], o: RecordOpts) {
    if (!o.agent) throw new ValidationError('--agent', 'is required; say which agent decided');
    const d = await this.decisions.record({
      taskId: taskIdFrom(params, o),
      agentId: o.agent,
      decision: o.decision as string,
      reasoning: o.reasoning,
      metadata: o.metadata,
    });
    emit(!!o.json, d, () => `decision ${d.id} recorded for task ${d.taskId}`);
  }
  @Option({ flags: '--task <id>', description: 'task id (or give it as the argument)' })
  parseTask(v: string) {
    return v;
  }
  @Option({ flags: '--agent <id>', description: 'the deciding agent (required)' })
  parseAgent(v: string) {
    return v;
  }
  @Option({ flags: '--decision <text>', description: 'what was decided (required)' })
  parseDecision(v: string) {
    return v;
  }
  @Option({ flags: '--reasoning <text>', description: 'why' })
  parseReasoning(v: string) {
    return v;
  }
  @Option({ flags: '--metadata <json>', description: 'a JSON object (at most 64 KiB)' })
  parseMetadata(v: string) {
    return parse.jsonObject('--metadata', v);
  }
  @Help('after')
  examples() {
    return `
Example:
  opencode-tools record-decision --task tsk_01j… --agent claude \\
    --decision "pin node 20" --reasoning "the CI image ships node 20" --metadata '{"files":["package.json"]}'`;
  }
}

export const HISTORY_COMMANDS = [
  TaskHistoryCommand,
  TaskExecutionsCommand,
  TaskDecisionsCommand,
  RecordDecisionCommand,
];
