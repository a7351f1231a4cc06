import { CommandRunner, Option } from 'nest-commander';
import { parseDuration } from '../../domain/duration';
import { ValidationError } from '../../domain/errors';
import { parseJsonObject, parseJsonValue } from '../../domain/validation';
import { reportError } from './output';

export interface BaseOptions {
  json?: boolean;
}

/**
 * Every CLI command extends this: `--json`, and errors mapped once to an exit code and a one-line
 * message on stderr (nest-commander's default handler would swallow them and exit 0).
 */
export abstract class BaseCommand<O extends BaseOptions = BaseOptions> extends CommandRunner {
  async run(params: string[], options: O): Promise<void> {
    try {
      await this.execute(params, options ?? ({} as O));
    } catch (err) {
      reportError(err, !!options?.json);
    }
  }

  protected abstract execute(params: string[], options: O): Promise<void>;

  @Option({ flags: '--json', description: 'print one JSON document on stdout' })
  parseJson(): boolean {
    return true;
  }
}

/** Option parsers shared by commands; they throw ValidationError naming the flag. */
export const parse = {
  int(flag: string, raw: string, min = 0): number {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min)
      throw new ValidationError(flag, `expected a whole number >= ${min}, got '${raw}'`);
    return n;
  },
  duration: (flag: string, raw: string) => parseDuration(raw, flag),
  jsonObject: (flag: string, raw: string) => parseJsonObject(raw, flag),
  json: (flag: string, raw: string) => parseJsonValue(raw, flag),
  list(raw: string, prev: string[] = []): string[] {
    return [
      ...prev,
      ...raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ];
  },
};

/** The task id from `--task <id>` or the first positional argument. */
export function taskIdFrom(params: string[], options: { task?: string }): string {
  const id = options.task ?? params[0];
  if (!id)
    throw new ValidationError(
      '--task',
      'is required; pass --task <id> (ids are shown by list-tasks)',
    );
  return id;
}
