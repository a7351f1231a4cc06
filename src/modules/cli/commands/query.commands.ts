import { Injectable } from '@nestjs/common';
import { Command, Help, Option } from 'nest-commander';
import type { TaskStatus } from '../../../domain/task';
import type { TaskStats } from '../../../ports/task-repository.port';
import { TasksService } from '../../tasks/tasks.service';
import { BaseCommand, parse, type BaseOptions } from '../base.command';
import { emit, table } from '../output';
import { formatTaskPage } from '../task-format';

interface PageOpts extends BaseOptions {
  limit?: number;
  offset?: number;
}

@Injectable()
abstract class PagedCommand<O extends PageOpts> extends BaseCommand<O> {
  constructor(protected readonly tasks: TasksService) {
    super();
  }
  @Option({ flags: '--limit <n>', description: 'page size, 1-1000 (default 50)' })
  parseLimit(v: string) {
    return parse.int('--limit', v, 1);
  }
  @Option({ flags: '--offset <n>', description: 'skip this many (default 0)' })
  parseOffset(v: string) {
    return parse.int('--offset', v, 0);
  }
}

interface ListOpts extends PageOpts {
  status?: string[];
  owner?: string;
  mode?: string;
  since?: string;
  until?: string;
  sort?: string;
  order?: string;
}

/** Accepts an ISO date-time, or a duration meaning "that long ago" (e.g. 2h). */
function toInstant(flag: string, raw: string): string {
  if (/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/.test(raw.trim())) {
    return new Date(Date.now() - parse.duration(flag, raw)).toISOString();
  }
  return raw;
}

/** The list filters, shared by `list-tasks` and `find-task`. */
@Injectable()
abstract class FilteredCommand<O extends ListOpts> extends PagedCommand<O> {
  protected filter(o: ListOpts) {
    return {
      status: o.status as TaskStatus[] | undefined,
      owner: o.owner,
      mode: o.mode as never,
      createdSince: o.since,
      createdUntil: o.until,
      limit: o.limit,
      offset: o.offset,
      sort: o.sort as never,
      order: o.order as never,
    };
  }
  @Option({
    flags: '--status <status>',
    description: 'pending|running|completed|failed|cancelled (repeat or comma-separate)',
  })
  parseStatus(v: string, prev?: string[]) {
    return parse.list(v, prev);
  }
  @Option({ flags: '--owner <owner>', description: 'only this owner' })
  parseOwner(v: string) {
    return v;
  }
  @Option({ flags: '--mode <mode>', description: 'exclusive|collaborative' })
  parseMode(v: string) {
    return v;
  }
  @Option({
    flags: '--since <when>',
    description: 'created at or after: ISO date-time, or a duration ago (2h, 7d)',
  })
  parseSince(v: string) {
    return toInstant('--since', v);
  }
  @Option({
    flags: '--until <when>',
    description: 'created at or before: ISO date-time, or a duration ago',
  })
  parseUntil(v: string) {
    return toInstant('--until', v);
  }
  @Option({ flags: '--sort <field>', description: 'createdAt (default), updatedAt, name, status' })
  parseSort(v: string) {
    return v;
  }
  @Option({ flags: '--order <dir>', description: 'desc (default) or asc' })
  parseOrder(v: string) {
    return v;
  }
}

@Command({ name: 'list-tasks', description: 'list tasks, newest first' })
export class ListTasksCommand extends FilteredCommand<ListOpts> {
  protected async execute(_: string[], o: ListOpts) {
    const page = await this.tasks.list(this.filter(o));
    emit(!!o.json, page, () => formatTaskPage(page));
  }
  @Help('after')
  examples() {
    return `
Examples:
  opencode-tools list-tasks --status running,pending --owner alice
  opencode-tools list-tasks --since 24h --sort updatedAt --limit 100 --json`;
  }
}

@Command({
  name: 'find-task',
  arguments: '[query]',
  description:
    'search name, description and metadata (case-insensitive substring), with the list-tasks filters',
})
export class FindTaskCommand extends FilteredCommand<ListOpts & { query?: string }> {
  protected async execute([query]: string[], o: ListOpts & { query?: string }) {
    const page = await this.tasks.find((o.query ?? query) as string, this.filter(o));
    emit(!!o.json, page, () => formatTaskPage(page));
  }
  @Option({ flags: '--query <text>', description: 'text to look for (or give it as the argument)' })
  parseQuery(v: string) {
    return v;
  }
  @Help('after')
  examples() {
    return `
Examples:
  opencode-tools find-task flaky
  opencode-tools find-task flaky --status running,pending --owner alice
  opencode-tools find-task '"repo":"api"' --json`;
  }
}

const ms = (v: number | null) =>
  v === null ? '' : v >= 1000 ? `${(v / 1000).toFixed(1)}s` : `${Math.round(v)}ms`;

function formatStats(s: TaskStats): string {
  const statuses = Object.keys(s.byStatus) as TaskStatus[];
  const parts = [
    `total ${s.total}`,
    table(
      ['STATUS', 'COUNT'],
      statuses.map((k) => [k, s.byStatus[k]]),
    ),
  ];
  if (s.byOwner.length) {
    parts.push(
      table(
        ['OWNER', 'TOTAL', ...statuses.map((k) => k.toUpperCase())],
        s.byOwner.map((o) => [o.owner, o.total, ...statuses.map((k) => o.byStatus[k] ?? 0)]),
      ),
    );
  }
  const d = Object.entries(s.durations);
  if (d.length) {
    parts.push(
      table(
        ['RUN TIME', 'COUNT', 'AVG', 'MIN', 'MAX'],
        d.map(([k, v]) => [k, v!.count, ms(v!.avgMs), ms(v!.minMs), ms(v!.maxMs)]),
      ),
    );
  }
  return parts.join('\n\n');
}

@Command({
  name: 'task-stats',
  description: 'counts by status and owner, run times of finished tasks',
})
export class TaskStatsCommand extends BaseCommand<BaseOptions & { owner?: string }> {
  constructor(private readonly tasks: TasksService) {
    super();
  }
  protected async execute(_: string[], o: BaseOptions & { owner?: string }) {
    const stats = await this.tasks.stats({ owner: o.owner });
    emit(!!o.json, stats, () => formatStats(stats));
  }
  @Option({ flags: '--owner <owner>', description: 'only this owner' })
  parseOwner(v: string) {
    return v;
  }
  @Help('after')
  examples() {
    return '\nExample:\n  opencode-tools task-stats --json';
  }
}
