import { Inject, Injectable } from '@nestjs/common';
import { OPENCODE_OPTIONS, type OpenCodeToolsOptions } from '../../config/options';
import { DomainError } from '../../domain/errors';
import {
  RUNTIME_RECORD_STORE,
  type RuntimeRecordStore,
} from '../../ports/runtime-record-store.port';
import { SANDBOX_RUNTIME, type SandboxRuntime } from '../../ports/sandbox-runtime.port';

/** Runtime-record kind of a placement: which engine holds a task's sandbox. */
export const PLACEMENT_KIND = 'sandbox';

/** An engine as the orchestrators tell engines apart: its id and the name of its host. */
export interface EngineRef {
  engineId: string;
  engineName: string;
}

interface PlacementData extends EngineRef {
  instanceId: string;
  at: string;
}

/** Remembered placements per process; a task's sandbox never changes engine. */
const CACHE_MAX = 10_000;

/**
 * Which Docker engine holds each task's sandbox. Several orchestrators on several hosts share one
 * Postgres but each talks to its own engine; a sandbox lives on exactly one. The placement is
 * written (a runtime record, shared through the database) when the sandbox is created or claimed
 * from the warm pool, and read when an instance must decide whether a task's sandbox is its own:
 * the reconciler leaves other engines' sandboxes alone (instead of taking them for vanished ones),
 * and commands for a sandbox on another engine fail with `SANDBOX_UNAVAILABLE` naming that host.
 * Tasks created before placements were recorded count as this engine's.
 */
@Injectable()
export class SandboxPlacementService {
  private engine?: Promise<EngineRef>;
  private readonly cache = new Map<string, PlacementData | null>();

  constructor(
    @Inject(SANDBOX_RUNTIME) private readonly runtime: SandboxRuntime,
    @Inject(RUNTIME_RECORD_STORE) private readonly records: RuntimeRecordStore,
    @Inject(OPENCODE_OPTIONS) private readonly options: OpenCodeToolsOptions,
  ) {}

  /** This process's engine (asked once; a failed ask is asked again next time). */
  here(): Promise<EngineRef> {
    this.engine ??= this.runtime.ping().then(
      (p) => ({ engineId: p.engineId, engineName: p.engineName ?? '' }),
      (err: unknown) => {
        this.engine = undefined;
        throw err;
      },
    );
    return this.engine;
  }

  /** Records that the task's sandbox now lives on this engine. */
  async record(taskId: string): Promise<void> {
    const data: PlacementData = {
      ...(await this.here()),
      instanceId: this.options.instanceId,
      at: new Date().toISOString(),
    };
    const rec = {
      status: 'placed',
      data: data as unknown as Record<string, unknown>,
      updatedAt: data.at,
    };
    const { record, created } = await this.records
      .insert({ kind: PLACEMENT_KIND, id: taskId, taskId, ...rec })
      .catch(async (err: unknown) => {
        // A record left by an earlier sandbox of this task (re-created after it vanished).
        const cur = await this.records.get(PLACEMENT_KIND, taskId);
        if (!cur) throw err;
        return { record: cur, created: false };
      });
    if (!created) await this.records.update(PLACEMENT_KIND, taskId, record.version, rec);
    this.remember(taskId, data);
  }

  /** Forgets the placement (the sandbox was removed). */
  async forget(taskId: string): Promise<void> {
    this.cache.delete(taskId);
    await this.records.delete(PLACEMENT_KIND, taskId);
  }

  /** Where the task's sandbox lives, or null when no placement was recorded. */
  async where(taskId: string): Promise<(EngineRef & { instanceId: string }) | null> {
    if (this.cache.has(taskId)) return this.cache.get(taskId) ?? null;
    const rec = await this.records.get(PLACEMENT_KIND, taskId);
    const data = rec ? (rec.data as unknown as PlacementData) : null;
    this.remember(taskId, data);
    return data;
  }

  /** True unless the task's sandbox is recorded on another engine. */
  async isHere(taskId: string): Promise<boolean> {
    const at = await this.where(taskId);
    return !at || sameEngine(at, await this.here());
  }

  /**
   * Throws `SANDBOX_UNAVAILABLE` naming the host when the task's sandbox lives on another engine.
   */
  async assertHere(taskId: string): Promise<void> {
    const at = await this.where(taskId);
    if (!at) return;
    const here = await this.here();
    if (sameEngine(at, here)) return;
    throw new DomainError(
      'SANDBOX_UNAVAILABLE',
      `the sandbox of task ${taskId} runs on the Docker engine of host ${at.engineName || '?'} ` +
        `(engine ${at.engineId}, created by instance ${at.instanceId}), not on this instance's ` +
        `engine (${here.engineName || '?'}); send the call to an instance on that host`,
      { taskId, engine: at, thisEngine: here },
    );
  }

  private remember(taskId: string, data: PlacementData | null): void {
    if (this.cache.size >= CACHE_MAX) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(taskId, data);
  }
}

export function sameEngine(a: EngineRef, b: EngineRef): boolean {
  return a.engineId === b.engineId && (a.engineName ?? '') === (b.engineName ?? '');
}
