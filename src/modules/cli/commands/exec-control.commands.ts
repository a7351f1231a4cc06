import { Command, Option } from 'nest-commander';
import { ValidationError } from '../../../domain/errors';
import { LiveExecutionsService, type ExecView } from '../../docker/live-executions.service';
import { BaseCommand, parse, type BaseOptions } from '../base.command';
import { emit } from '../output';
import { EXEC_RUNNING_EXIT, EXEC_TIMEOUT_EXIT } from './exec.command';

interface ControlOpts extends BaseOptions {
  execution?: string;
  timeout?: number;
  agent?: string;
  stdoutOffset?: number;
  stderrOffset?: number;
  maxBytes?: number;
}

function executionIdFrom(params: string[], o: ControlOpts): string {
  const id = o.execution ?? params[0];
  if (!id) {
    throw new ValidationError(
      '--execution',
      'is required; pass --execution <id> (exec --yield prints it on stderr)',
    );
  }
  return id;
}

/** Prints a result like `exec` does and sets the exit status from it. */
function finish(r: ExecView, json: boolean): void {
  const code =
    r.status === 'running' ? EXEC_RUNNING_EXIT : r.timedOut ? EXEC_TIMEOUT_EXIT : (r.exitCode ?? 1);
  if (json) {
    emit(true, r, () => '');
    if (r.status !== 'completed') process.exitCode = EXEC_RUNNING_EXIT;
    return;
  }
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  if (r.status === 'running') {
    process.stderr.write(`opencode-tools: execution ${r.executionId} is still running\n`);
  } else if (r.status === 'lost') {
    process.stderr.write(`opencode-tools: execution ${r.executionId} was lost\n`);
  } else if (r.timedOut) {
    process.stderr.write(`opencode-tools: execution ${r.executionId} timed out and was killed\n`);
  }
  process.exitCode = code;
}

abstract class ControlCommand extends BaseCommand<ControlOpts> {
  constructor(protected readonly executions: LiveExecutionsService) {
    super();
  }
  @Option({ flags: '--execution <id>', description: 'the execution (exe_…)' })
  parseExecution(v: string) {
    return v;
  }
}

@Command({
  name: 'exec-wait',
  arguments: '[execution]',
  description:
    'wait for an execution to end (after exec --yield, a reconnect or a restart); prints its output, exits with its code (75 if still running)',
})
export class ExecWaitCommand extends ControlCommand {
  constructor(executions: LiveExecutionsService) {
    super(executions);
  }
  protected async execute(params: string[], o: ControlOpts): Promise<void> {
    finish(await this.executions.wait(executionIdFrom(params, o), o.timeout ?? 30_000), !!o.json);
  }
  @Option({ flags: '--timeout <duration>', description: 'wait at most this long (default 30s)' })
  parseTimeout(v: string) {
    return parse.duration('--timeout', v);
  }
}

@Command({
  name: 'exec-kill',
  arguments: '[execution]',
  description: "kill a running execution's process group and everything it started",
})
export class ExecKillCommand extends ControlCommand {
  constructor(executions: LiveExecutionsService) {
    super(executions);
  }
  protected async execute(params: string[], o: ControlOpts): Promise<void> {
    finish(await this.executions.kill(executionIdFrom(params, o), { agentId: o.agent }), !!o.json);
  }
  @Option({ flags: '--agent <id>', description: 'act as this agent (must be attached)' })
  parseAgent(v: string) {
    return v;
  }
}

@Command({
  name: 'exec-poll',
  arguments: '[execution]',
  description:
    "print an execution's output from byte offsets on (stdout to stdout, stderr to stderr) and its status",
})
export class ExecPollCommand extends ControlCommand {
  constructor(executions: LiveExecutionsService) {
    super(executions);
  }
  protected async execute(params: string[], o: ControlOpts): Promise<void> {
    const p = await this.executions.poll(executionIdFrom(params, o), {
      stdoutOffset: o.stdoutOffset,
      stderrOffset: o.stderrOffset,
      maxBytes: o.maxBytes ?? 1024 * 1024,
    });
    if (o.json) return emit(true, p, () => '');
    process.stdout.write(p.stdout);
    process.stderr.write(p.stderr);
    process.stderr.write(
      `opencode-tools: ${p.status}${p.status === 'completed' ? ` (exit ${p.exitCode ?? 'none'})` : ''}; next --stdout-offset ${p.stdoutOffset} --stderr-offset ${p.stderrOffset}\n`,
    );
  }
  @Option({ flags: '--stdout-offset <n>', description: 'stdout byte offset (default 0)' })
  parseOut(v: string) {
    return parse.int('--stdout-offset', v);
  }
  @Option({ flags: '--stderr-offset <n>', description: 'stderr byte offset (default 0)' })
  parseErr(v: string) {
    return parse.int('--stderr-offset', v);
  }
  @Option({ flags: '--max-bytes <n>', description: 'most bytes per stream (default 1 MiB)' })
  parseMax(v: string) {
    return parse.int('--max-bytes', v, 1);
  }
}

export const EXEC_CONTROL_COMMANDS = [ExecWaitCommand, ExecKillCommand, ExecPollCommand];
