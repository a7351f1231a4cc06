import { Inject, Injectable, Optional, type OnApplicationShutdown } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import type { Counter, Histogram, Registry } from 'prom-client';
import { OPENCODE_OPTIONS, type OpenCodeToolsOptions } from '../../config/options';
import {
  SANDBOX_LABELS,
  SANDBOX_RUNTIME,
  type SandboxRuntime,
} from '../../ports/sandbox-runtime.port';
import type { ReconcileAction } from '../docker/reconciler.service';
import { registryId } from '../docker/sandbox-policy';
import { SANDBOX_EVENTS, type SandboxAlert, type SandboxExecEvent } from '../docker/sandbox.events';
import { LOCK_EVENTS, type LockWaitEvent } from '../locks/lock.events';
import { MCP_EVENTS, type McpCallEvent } from '../mcp/mcp.events';
import { TasksService } from '../tasks/tasks.service';
import { HEALTH_CHECK_TIMEOUT_MS } from './health.service';

/** Exec durations span a shell builtin (ms) to a test suite (minutes). */
const EXEC_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];
const LOCK_BUCKETS = [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600];
const MCP_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120];

export interface MetricsSnapshot {
  contentType: string;
  text: string;
}

interface Instruments {
  registry: Registry;
  exec: Histogram<'outcome'>;
  lockWait: Histogram<'granted'>;
  lockConflicts: Counter;
  reconciler: Counter<'kind'>;
  alerts: Counter<'kind'>;
  mcpCalls: Counter<'tool' | 'outcome'>;
  mcpDuration: Histogram;
}

/**
 * Prometheus metrics (`/metrics` of `serve`, CLI `metrics`). Counters and histograms are fed by
 * the events the modules already publish (exec, reconciler, alerts, locks, MCP calls); gauges
 * (tasks by status, sandboxes) are read from the same services at scrape time, so there is no
 * second data path. Nothing is counted before `start()`, which loads prom-client: commands that
 * never report metrics never load it.
 * @example
 * await metrics.start();
 * const { contentType, text } = await metrics.render();
 */
@Injectable()
export class MetricsService implements OnApplicationShutdown {
  private started?: Promise<Instruments>;
  private readonly off: (() => void)[] = [];
  private readonly extraGauges: { name: string; help: string; read: () => number }[] = [];

  constructor(
    private readonly events: EventEmitter2,
    private readonly tasks: TasksService,
    @Inject(OPENCODE_OPTIONS) private readonly options: OpenCodeToolsOptions,
    @Optional() @Inject(SANDBOX_RUNTIME) private readonly runtime?: SandboxRuntime,
  ) {}

  /** Adds a gauge read at scrape time (e.g. dashboard viewers). Call before `start()`. */
  addGauge(name: string, help: string, read: () => number): void {
    this.extraGauges.push({ name, help, read });
  }

  /** Creates the instruments and subscribes to events; idempotent. */
  start(): Promise<Instruments> {
    this.started ??= this.build();
    return this.started;
  }

  async render(): Promise<MetricsSnapshot> {
    const { registry } = await this.start();
    return { contentType: registry.contentType, text: await registry.metrics() };
  }

  /** The same values as JSON (prom-client's shape: one entry per metric with its samples). */
  async json(): Promise<unknown[]> {
    const { registry } = await this.start();
    return registry.getMetricsAsJSON();
  }

  onApplicationShutdown(): void {
    for (const off of this.off.splice(0)) off();
  }

  private on<T>(event: string, fn: (e: T) => void): void {
    const listener = (e: T) => {
      try {
        fn(e);
      } catch {
        // Metrics never break the code that publishes the event.
      }
    };
    this.events.on(event, listener);
    this.off.push(() => this.events.off(event, listener));
  }

  private async build(): Promise<Instruments> {
    const prom = await import('prom-client');
    const registry = new prom.Registry();
    prom.collectDefaultMetrics({ register: registry });
    const registers = [registry];
    const tasks = this.tasks;
    new prom.Gauge({
      name: 'opencode_tasks',
      help: 'Tasks in the registry by status',
      labelNames: ['status'],
      registers,
      async collect() {
        const stats = await tasks.stats();
        for (const [status, n] of Object.entries(stats.byStatus)) this.set({ status }, n);
      },
    });
    const sandboxes = (): Promise<{ up: boolean; byState: Map<string, number> }> =>
      this.sandboxCounts();
    let pending: ReturnType<typeof sandboxes> | undefined;
    // Both gauges come from one engine call per scrape.
    const once = () =>
      (pending ??= sandboxes().finally(() => setImmediate(() => (pending = undefined))));
    new prom.Gauge({
      name: 'opencode_sandboxes',
      help: "This registry's sandbox containers on the engine, by state (running = live)",
      labelNames: ['state'],
      registers,
      async collect() {
        this.reset();
        // `running` is always there, so "live sandboxes" reads 0 rather than absent.
        this.set({ state: 'running' }, 0);
        for (const [state, n] of (await once()).byState) this.set({ state }, n);
      },
    });
    new prom.Gauge({
      name: 'opencode_engine_up',
      help: '1 when the sandbox engine answered the last scrape, else 0',
      registers,
      async collect() {
        this.set((await once()).up ? 1 : 0);
      },
    });
    for (const g of this.extraGauges) {
      new prom.Gauge({
        name: g.name,
        help: g.help,
        registers,
        collect() {
          this.set(g.read());
        },
      });
    }
    const ins: Instruments = {
      registry,
      exec: new prom.Histogram({
        name: 'opencode_exec_duration_seconds',
        help: 'Commands run in sandboxes: wall time, by outcome (ok, failed = non-zero exit, timeout)',
        labelNames: ['outcome'],
        buckets: EXEC_BUCKETS,
        registers,
      }),
      lockWait: new prom.Histogram({
        name: 'opencode_lock_wait_seconds',
        help: 'Time spent waiting for a held lock (acquire with --wait), by whether it was granted',
        labelNames: ['granted'],
        buckets: LOCK_BUCKETS,
        registers,
      }),
      lockConflicts: new prom.Counter({
        name: 'opencode_lock_conflicts_total',
        help: 'Lock acquisitions refused because another holder had the lock (each attempt)',
        registers,
      }),
      reconciler: new prom.Counter({
        name: 'opencode_reconciler_actions_total',
        help: 'Repairs made by the sandbox reconciler, by kind',
        labelNames: ['kind'],
        registers,
      }),
      alerts: new prom.Counter({
        name: 'opencode_sandbox_alerts_total',
        help: 'Sandbox resource alerts raised, by kind (memoryHigh, pidsAtLimit, oomKilled)',
        labelNames: ['kind'],
        registers,
      }),
      mcpCalls: new prom.Counter({
        name: 'opencode_mcp_calls_total',
        help: 'MCP tool calls by tool and outcome (ok, or the error code)',
        labelNames: ['tool', 'outcome'],
        registers,
      }),
      mcpDuration: new prom.Histogram({
        name: 'opencode_mcp_call_duration_seconds',
        help: 'MCP tool call wall time',
        buckets: MCP_BUCKETS,
        registers,
      }),
    };
    this.on<SandboxExecEvent>(SANDBOX_EVENTS.exec, ({ result: r }) => {
      const outcome = r.timedOut ? 'timeout' : r.exitCode === 0 ? 'ok' : 'failed';
      ins.exec.observe({ outcome }, r.durationMs / 1000);
    });
    this.on<LockWaitEvent>(LOCK_EVENTS.wait, (e) =>
      ins.lockWait.observe({ granted: String(e.granted) }, e.waitedMs / 1000),
    );
    this.on(LOCK_EVENTS.conflict, () => ins.lockConflicts.inc());
    this.on<ReconcileAction>(SANDBOX_EVENTS.reconciled, (a) =>
      ins.reconciler.inc({ kind: a.kind }),
    );
    this.on<SandboxAlert>(SANDBOX_EVENTS.alert, (a) => ins.alerts.inc({ kind: a.kind }));
    this.on<McpCallEvent>(MCP_EVENTS.call, (c) => {
      ins.mcpCalls.inc({ tool: c.tool, outcome: c.outcome });
      ins.mcpDuration.observe(c.durationMs / 1000);
    });
    return ins;
  }

  private async sandboxCounts(): Promise<{ up: boolean; byState: Map<string, number> }> {
    const byState = new Map<string, number>();
    if (!this.runtime) return { up: false, byState };
    try {
      let timer: NodeJS.Timeout | undefined;
      const list = await Promise.race([
        this.runtime.list(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('timeout')), HEALTH_CHECK_TIMEOUT_MS);
        }),
      ]).finally(() => clearTimeout(timer));
      const mine = registryId(this.options);
      for (const s of list) {
        if (s.labels[SANDBOX_LABELS.registry] !== mine) continue;
        byState.set(s.state, (byState.get(s.state) ?? 0) + 1);
      }
      return { up: true, byState };
    } catch {
      return { up: false, byState };
    }
  }
}
