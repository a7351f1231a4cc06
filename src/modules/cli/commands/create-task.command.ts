import { Command, Help, Option } from 'nest-commander';
import { TasksService } from '../../tasks/tasks.service';
import { BaseCommand, parse, type BaseOptions } from '../base.command';
import { emit } from '../output';
import { formatTask } from '../task-format';

interface Opts extends BaseOptions {
  name?: string;
  owner?: string;
  mode?: string;
  description?: string;
  metadata?: Record<string, unknown>;
  image?: string;
}

@Command({
  name: 'create-task',
  arguments: '[name]',
  description: 'create a task (status pending)',
})
export class CreateTaskCommand extends BaseCommand<Opts> {
  constructor(private readonly tasks: TasksService) {
    super();
  }

  protected async execute([name]: string[], o: Opts): Promise<void> {
    const task = await this.tasks.create({
      name: (o.name ?? name) as string,
      owner: o.owner ?? process.env.USER ?? undefined,
      mode: o.mode as never,
      description: o.description,
      metadata: o.metadata,
      sandbox: o.image ? { image: o.image } : undefined,
    });
    emit(!!o.json, task, () => formatTask(task));
  }

  @Option({
    flags: '--name <name>',
    description: 'task name, 1-200 characters (or give it as the argument)',
  })
  parseName(v: string) {
    return v;
  }
  @Option({ flags: '--owner <owner>', description: 'who owns the task (default: $USER)' })
  parseOwner(v: string) {
    return v;
  }
  @Option({
    flags: '--mode <mode>',
    description: 'exclusive (one agent at a time, default) or collaborative',
  })
  parseMode(v: string) {
    return v;
  }
  @Option({ flags: '--description <text>', description: 'free text' })
  parseDescription(v: string) {
    return v;
  }
  @Option({ flags: '--metadata <json>', description: 'a JSON object, at most 64 KiB' })
  parseMetadata(v: string) {
    return parse.jsonObject('--metadata', v);
  }
  @Option({
    flags: '--image <image>',
    description: 'sandbox image (default: OPENCODE_SANDBOX_IMAGE)',
  })
  parseImage(v: string) {
    return v;
  }

  @Help('after')
  examples() {
    return `
Examples:
  opencode-tools create-task "fix flaky test" --owner alice --metadata '{"repo":"api"}'
  opencode-tools create-task --name refactor --mode collaborative --json`;
  }
}
