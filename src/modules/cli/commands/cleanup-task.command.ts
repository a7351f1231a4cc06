import { createInterface } from 'node:readline/promises';
import { Command, Help, Option } from 'nest-commander';
import { ValidationError } from '../../../domain/errors';
import { TERMINAL_STATUSES, type Task, type TaskStatus } from '../../../domain/task';
import { TasksService } from '../../tasks/tasks.service';
import { BaseCommand, parse, type BaseOptions } from '../base.command';
import { emit } from '../output';

interface Opts extends BaseOptions {
  task?: string;
  status?: string[];
  olderThan?: number;
  force?: boolean;
  yes?: boolean;
}

/** Bulk cleanup deletes at most this many tasks per run. */
const BULK_MAX = 1000;

@Command({
  name: 'cleanup-task',
  arguments: '[task]',
  description: 'delete a finished task (or, with filters, many), its sandbox and its records',
})
export class CleanupTaskCommand extends BaseCommand<Opts> {
  constructor(private readonly tasks: TasksService) {
    super();
  }

  protected async execute([positional]: string[], o: Opts) {
    const id = o.task ?? positional;
    if (!id && !o.status && o.olderThan === undefined) {
      throw new ValidationError(
        '--task',
        'is required; pass --task <id>, or --status/--older-than to clean up many',
      );
    }
    const targets = id ? [await this.tasks.get(id)] : await this.select(o);
    if (targets.length && !(await this.confirm(targets, o))) {
      process.stderr.write('aborted; nothing deleted\n');
      process.exitCode = 4;
      return;
    }
    const deleted: string[] = [];
    for (const t of targets) {
      await this.tasks.delete(t.id, { force: o.force }, { expectedVersion: t.version });
      deleted.push(t.id);
    }
    emit(!!o.json, { deleted }, () =>
      deleted.length
        ? `deleted ${deleted.length} task(s): ${deleted.join(', ')}`
        : 'nothing to delete',
    );
  }

  private async select(o: Opts): Promise<Task[]> {
    const status = (o.status?.length ? o.status : [...TERMINAL_STATUSES]) as TaskStatus[];
    const until =
      o.olderThan !== undefined ? new Date(Date.now() - o.olderThan).toISOString() : undefined;
    const page = await this.tasks.list({
      status,
      createdUntil: until,
      limit: BULK_MAX,
      order: 'asc',
    });
    return page.items;
  }

  private async confirm(targets: Task[], o: Opts): Promise<boolean> {
    if (o.yes) return true;
    if (!process.stdin.isTTY) {
      throw new ValidationError(
        '--yes',
        'deleting needs confirmation and stdin is not a terminal; pass --yes in scripts',
      );
    }
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      const what =
        targets.length === 1
          ? `task ${targets[0].id} (${targets[0].name}, ${targets[0].status})`
          : `${targets.length} tasks`;
      const answer = await rl.question(`Delete ${what}? This cannot be undone. [y/N] `);
      return /^y(es)?$/i.test(answer.trim());
    } finally {
      rl.close();
    }
  }

  @Option({ flags: '--task <id>', description: 'the task to delete (or give it as the argument)' })
  parseTask(v: string) {
    return v;
  }
  @Option({
    flags: '--status <status>',
    description: 'bulk: delete tasks in these statuses (default: all terminal ones)',
  })
  parseStatus(v: string, prev?: string[]) {
    return parse.list(v, prev);
  }
  @Option({
    flags: '--older-than <duration>',
    description: 'bulk: only tasks created longer ago than this (e.g. 7d)',
  })
  parseOlderThan(v: string) {
    return parse.duration('--older-than', v);
  }
  @Option({
    flags: '--force',
    description: 'also delete tasks that are not finished (tears the sandbox down first)',
  })
  parseForce() {
    return true;
  }
  @Option({
    flags: '-y, --yes',
    description: 'do not ask for confirmation (required when stdin is not a terminal)',
  })
  parseYes() {
    return true;
  }
  @Help('after')
  examples() {
    return `
Examples:
  opencode-tools cleanup-task --task tsk_01j… --yes
  opencode-tools cleanup-task --status completed,cancelled --older-than 7d --yes --json`;
  }
}
