import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { OPENCODE_OPTIONS, type OpenCodeToolsOptions } from '../../config/options';
import {
  SANDBOX_LABELS,
  SANDBOX_RUNTIME,
  type SandboxRuntime,
  type SandboxStats,
} from '../../ports/sandbox-runtime.port';
import { SandboxAlerts } from './sandbox-alerts';
import { registryId } from './sandbox-policy';
import { type SandboxAlert, type SandboxAlertKind } from './sandbox.events';

/** Which thresholds a sample crosses. */
export function alertsFor(
  s: SandboxStats,
  memoryAlertPercent: number,
): { kind: SandboxAlertKind; message: string }[] {
  const out: { kind: SandboxAlertKind; message: string }[] = [];
  if (s.memoryLimitBytes && s.memoryPercent >= memoryAlertPercent) {
    out.push({
      kind: 'memoryHigh',
      message: `memory at ${s.memoryPercent}% of the ${Math.round(s.memoryLimitBytes / 1048576)} MiB limit (alert at ${memoryAlertPercent}%)`,
    });
  }
  // "At the limit" allows 10 % headroom: a fork that fails at the limit usually takes its
  // parent down, so a sample rarely sees the exact maximum.
  if (s.pidsLimit && s.pids >= Math.floor(s.pidsLimit * 0.9)) {
    out.push({
      kind: 'pidsAtLimit',
      message: `${s.pids} processes: at (or within 10 % of) the limit of ${s.pidsLimit}`,
    });
  }
  return out;
}

/**
 * Samples every running sandbox's stats; a crossed threshold (memory over N % of its limit, pids at
 * the limit, a container OOM-killed) is published once as `opencode.sandbox.alert` on EventEmitter2
 * and raised again only after it has cleared.
 */
@Injectable()
export class SandboxMonitorService implements OnApplicationShutdown {
  private readonly logger = new Logger('SandboxMonitor');
  private readonly active = new Map<string, Set<SandboxAlertKind>>();
  private timer?: NodeJS.Timeout;
  readonly latest = new Map<string, SandboxStats>();

  constructor(
    @Inject(SANDBOX_RUNTIME) private readonly runtime: SandboxRuntime,
    @Inject(OPENCODE_OPTIONS) private readonly options: OpenCodeToolsOptions,
    private readonly alerts: SandboxAlerts,
  ) {}

  /** One sampling pass over all running sandboxes; returns the alerts raised. */
  async sample(): Promise<SandboxAlert[]> {
    const raised: SandboxAlert[] = [];
    // Only this registry's sandboxes: other data homes may share the engine.
    const mine = registryId(this.options);
    const infos = (await this.runtime.list()).filter(
      (i) => i.labels[SANDBOX_LABELS.registry] === mine,
    );
    const live = new Set<string>();
    await Promise.all(
      infos.map(async (info) => {
        live.add(info.taskId);
        const now: { kind: SandboxAlertKind; message: string; stats?: SandboxStats }[] = [];
        if (info.oomKilled)
          now.push({ kind: 'oomKilled', message: 'the container was OOM-killed' });
        if (info.state === 'running') {
          try {
            const stats = await this.runtime.stats(info.taskId);
            this.latest.set(info.taskId, stats);
            for (const a of alertsFor(stats, this.options.sandbox.memoryAlertPercent)) {
              now.push({ ...a, stats });
            }
          } catch (err) {
            this.logger.debug(`no stats for ${info.taskId}: ${(err as Error).message}`);
          }
        }
        const before = this.active.get(info.taskId) ?? new Set();
        const after = new Set(now.map((a) => a.kind));
        for (const a of now) {
          if (before.has(a.kind)) continue;
          const alert: SandboxAlert = {
            kind: a.kind,
            taskId: info.taskId,
            message: `sandbox of task ${info.taskId}: ${a.message}`,
            stats: a.stats,
            at: new Date().toISOString(),
          };
          raised.push(alert);
          await this.alerts.raise(alert);
        }
        this.active.set(info.taskId, after);
      }),
    );
    for (const id of [...this.active.keys()]) if (!live.has(id)) this.active.delete(id);
    for (const id of [...this.latest.keys()]) if (!live.has(id)) this.latest.delete(id);
    return raised;
  }

  /** For long-running processes; 0 turns sampling off. */
  startTimer(intervalMs = this.options.sandbox.monitorIntervalMs): void {
    if (intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      this.sample().catch((err: Error) => this.logger.warn(`sampling failed: ${err.message}`));
    }, intervalMs);
    this.timer.unref();
  }

  stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  onApplicationShutdown(): void {
    this.stopTimer();
  }
}
