import { Injectable } from '@nestjs/common';
import { Command, Help, Option } from 'nest-commander';
import { ValidationError } from '../../../domain/errors';
import { CheckpointsService } from '../../history/checkpoints.service';
import { BaseCommand, taskIdFrom, type BaseOptions } from '../base.command';
import { formatCheckpoints, stderrProgress } from '../history-format';
import { emit } from '../output';
import { formatTask } from '../task-format';

interface Opts extends BaseOptions {
  task?: string;
  checkpoint?: string;
  description?: string;
  agent?: string;
  name?: string;
  list?: boolean;
  quiet?: boolean;
}

@Injectable()
abstract class CheckpointCommand extends BaseCommand<Opts> {
  constructor(protected readonly checkpoints: CheckpointsService) {
    super();
  }
  @Option({ flags: '--task <id>', description: 'task id (or give it as the argument)' })
  parseTask(v: string) {
    return v;
  }
  @Option({ flags: '--quiet', description: 'no progress lines on stderr' })
  parseQuiet() {
    return true;
  }
}

@Command({
  name: 'checkpoint',
  arguments: '[task]',
  description: "snapshot a task's state, log position, decisions (and sandbox, when available)",
})
export class CheckpointTaskCommand extends CheckpointCommand {
  protected async execute(params: string[], o: Opts) {
    const cp = await this.checkpoints.create(
      { taskId: taskIdFrom(params, o), description: o.description as string, agentId: o.agent },
      stderrProgress(o.quiet),
    );
    emit(!!o.json, cp, () => `checkpoint ${cp.id} created for task ${cp.taskId}`);
  }
  @Option({ flags: '--description <text>', description: 'what this checkpoint is (required)' })
  parseDescription(v: string) {
    return v;
  }
  @Option({
    flags: '--agent <id>',
    description: 'the agent taking the checkpoint (must be attached)',
  })
  parseAgent(v: string) {
    return v;
  }
  @Help('after')
  examples() {
    return `
Examples:
  opencode-tools checkpoint --task tsk_01j… --description "tests green, before refactor"
  opencode-tools checkpoint tsk_01j… --description "before upgrade" --agent claude --json`;
  }
}

@Command({
  name: 'restore-checkpoint',
  arguments: '[task]',
  description:
    'rewind a task to a checkpoint (later history is kept, marked rewound), or --list them',
})
export class RestoreCheckpointCommand extends CheckpointCommand {
  protected async execute(params: string[], o: Opts) {
    const taskId = taskIdFrom(params, o);
    if (o.list) {
      const items = await this.checkpoints.list(taskId);
      emit(!!o.json, { items }, () => formatCheckpoints(items));
      return;
    }
    if (!o.checkpoint) {
      throw new ValidationError(
        '--checkpoint',
        'is required; pass --checkpoint <id>, or --list to see the checkpoints of the task',
      );
    }
    const r = await this.checkpoints.restore(taskId, o.checkpoint, stderrProgress(o.quiet), {
      agentId: o.agent,
    });
    emit(
      !!o.json,
      r,
      () =>
        `task ${r.task.id} restored to checkpoint ${r.checkpoint.id} (${r.checkpoint.description}); ` +
        `marked rewound: ${r.rewound.decisions} decision(s), ${r.rewound.executions} execution(s), ` +
        `the log from position ${r.rewound.logFrom} to ${r.rewound.logTo}; status ${r.task.status}`,
    );
  }
  @Option({ flags: '--checkpoint <id>', description: 'the checkpoint to restore' })
  parseCheckpoint(v: string) {
    return v;
  }
  @Option({ flags: '--list', description: 'list the checkpoints of the task instead' })
  parseList() {
    return true;
  }
  @Option({ flags: '--agent <id>', description: 'the agent restoring (must be attached)' })
  parseAgent(v: string) {
    return v;
  }
  @Help('after')
  examples() {
    return `
Examples:
  opencode-tools restore-checkpoint --task tsk_01j… --list
  opencode-tools restore-checkpoint --task tsk_01j… --checkpoint chk_01j… --json`;
  }
}

@Command({
  name: 'fork-task',
  arguments: '[task]',
  description: 'create a new, independent task from a checkpoint',
})
export class ForkTaskCommand extends CheckpointCommand {
  protected async execute(params: string[], o: Opts) {
    if (!o.checkpoint)
      throw new ValidationError('--checkpoint', 'is required; pass --checkpoint <id>');
    const child = await this.checkpoints.fork(
      taskIdFrom(params, o),
      o.checkpoint,
      o.name,
      stderrProgress(o.quiet),
    );
    emit(!!o.json, child, () => formatTask(child));
  }
  @Option({ flags: '--checkpoint <id>', description: 'the checkpoint to fork from (required)' })
  parseCheckpoint(v: string) {
    return v;
  }
  @Option({ flags: '--name <name>', description: 'name of the new task (default "<name> (fork)")' })
  parseName(v: string) {
    return v;
  }
  @Help('after')
  examples() {
    return `
Example:
  opencode-tools fork-task --task tsk_01j… --checkpoint chk_01j… --name "try approach B" --json`;
  }
}

@Command({
  name: 'delete-checkpoint',
  arguments: '[task]',
  description: 'delete one checkpoint of a task (and its snapshot)',
})
export class DeleteCheckpointCommand extends CheckpointCommand {
  protected async execute(params: string[], o: Opts) {
    if (!o.checkpoint)
      throw new ValidationError('--checkpoint', 'is required; pass --checkpoint <id>');
    const cp = await this.checkpoints.delete(taskIdFrom(params, o), o.checkpoint);
    emit(!!o.json, { deleted: cp.id }, () => `checkpoint ${cp.id} deleted`);
  }
  @Option({ flags: '--checkpoint <id>', description: 'the checkpoint to delete (required)' })
  parseCheckpoint(v: string) {
    return v;
  }
  @Help('after')
  examples() {
    return '\nExample:\n  opencode-tools delete-checkpoint --task tsk_01j… --checkpoint chk_01j…';
  }
}

export const CHECKPOINT_COMMANDS = [
  CheckpointTaskCommand,
  RestoreCheckpointCommand,
  ForkTaskCommand,
  DeleteCheckpointCommand,
];
