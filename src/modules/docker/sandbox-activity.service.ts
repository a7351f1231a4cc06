import { Inject, Injectable, Logger } from '@nestjs/common';
import { newId } from '../../domain/ids';
import {
  RUNTIME_RECORD_STORE,
  type RuntimeRecord,
  type RuntimeRecordStore,
} from '../../ports/runtime-record-store.port';
import type { ReconcileAction } from './reconciler.service';
import type { SandboxAlert } from './sandbox.events';

/** Runtime-record kinds of the durable activity; the README lists them. */
export const ACTIVITY_KINDS = {
  alert: 'sandbox-alert',
  reconciled: 'reconcile-action',
} as const;

/** How many of each kind are kept (the oldest go as new ones come). */
export const ACTIVITY_KEEP = 200;

/**
 * A process trims a kind on its first record and then every this many: a reconciler pass that
 * adopts a thousand sandboxes must not read the whole kind back a thousand times.
 */
const TRIM_EVERY = 25;

export type RecordedAction = ReconcileAction & { at: string };

/**
 * The durable record of sandbox alerts and reconciler actions: runtime records in the task
 * database, so they outlive the process that saw them and every instance on the database reads
 * the same history (the dashboard's system view). Recording never throws: an alert or a reconciler
 * pass must not fail because the record could not be written (it is logged instead).
 */
@Injectable()
export class SandboxActivity {
  private readonly logger = new Logger('SandboxActivity');
  private readonly untrimmed = new Map<string, number>();

  constructor(@Inject(RUNTIME_RECORD_STORE) private readonly records: RuntimeRecordStore) {}

  async recordAlert(alert: SandboxAlert): Promise<void> {
    const { stats, ...rest } = alert;
    await this.put(ACTIVITY_KINDS.alert, alert.taskId, alert.kind, alert.at, {
      ...rest,
      ...(stats ? { stats } : {}),
    });
  }

  async recordAction(action: ReconcileAction, at = new Date().toISOString()): Promise<void> {
    await this.put(ACTIVITY_KINDS.reconciled, action.taskId, action.kind, at, { ...action, at });
  }

  /** The newest `limit` alerts and reconciler actions, newest first, from every process. */
  async recent(limit: number): Promise<{ alerts: SandboxAlert[]; actions: RecordedAction[] }> {
    const [alerts, actions] = await Promise.all([
      this.newest(ACTIVITY_KINDS.alert),
      this.newest(ACTIVITY_KINDS.reconciled),
    ]);
    return {
      alerts: alerts.slice(0, limit).map((r) => r.data as unknown as SandboxAlert),
      actions: actions.slice(0, limit).map((r) => r.data as unknown as RecordedAction),
    };
  }

  /** Newest first: ids are ULIDs, so they sort by creation time across processes. */
  private async newest(kind: string): Promise<RuntimeRecord[]> {
    const list = await this.records.list(kind);
    return list.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  }

  private async put(
    kind: string,
    taskId: string,
    status: string,
    at: string,
    data: Record<string, unknown>,
  ): Promise<void> {
    try {
      await this.records.insert({ kind, id: newId('act'), taskId, status, data, updatedAt: at });
      const n = this.untrimmed.get(kind);
      if (n !== undefined && n + 1 < TRIM_EVERY) {
        this.untrimmed.set(kind, n + 1);
        return;
      }
      this.untrimmed.set(kind, 0);
      const all = await this.newest(kind);
      // Several processes may trim at once: a record already gone is fine.
      for (const old of all.slice(ACTIVITY_KEEP)) await this.records.delete(kind, old.id);
    } catch (err) {
      this.logger.warn(`could not record ${kind} of task ${taskId}: ${(err as Error).message}`);
    }
  }
}
