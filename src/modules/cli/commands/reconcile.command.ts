import { Command, Help } from 'nest-commander';
import { ReconcilerService, type ReconcileReport } from '../../docker/reconciler.service';
import { BaseCommand, type BaseOptions } from '../base.command';
import { emit, table } from '../output';

function format(r: ReconcileReport): string {
  const lines: string[] = [];
  lines.push(
    r.actions.length
      ? table(
          ['ACTION', 'TASK', 'DETAIL'],
          r.actions.map((a) => [a.kind, a.taskId, a.detail]),
        )
      : 'nothing to do: registry and engine agree',
  );
  if (r.errors.length) {
    lines.push(
      table(
        ['ERROR', 'TASK'],
        r.errors.map((e) => [e.message, e.taskId]),
      ),
    );
  }
  return lines.join('\n\n');
}

@Command({
  name: 'reconcile',
  description:
    'compare tasks with the sandboxes on the engine and repair the difference (idempotent)',
})
export class ReconcileCommand extends BaseCommand<BaseOptions> {
  constructor(private readonly reconciler: ReconcilerService) {
    super();
  }

  protected async execute(_: string[], o: BaseOptions): Promise<void> {
    const report = await this.reconciler.reconcile();
    emit(!!o.json, report, () => format(report));
    if (report.errors.length) process.exitCode = 1;
  }

  @Help('after')
  examples() {
    return `
What it does (see README "Sandboxes"):
  adopted         a live task's container is there and running
  started         a live task's container existed but was stopped or never started
  failed-task     a live task's container vanished (OPENCODE_SANDBOX_ON_VANISHED=fail, default)
  recreated       … or was re-created, workspace kept (OPENCODE_SANDBOX_ON_VANISHED=recreate)
  removed-orphan  labelled container/network/volume of a task that no longer exists, or an
                  untagged snapshot image no container uses
  removed-pool-member  a claimed warm sandbox whose task was never stored
  stopped         a finished task's container was still running
Exit status 1 when some repair failed (they are listed; the next run retries).

Example:
  opencode-tools reconcile --json`;
  }
}
