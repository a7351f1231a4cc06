import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { OPENCODE_OPTIONS, type OpenCodeToolsOptions } from '../../config/options';
import { ValidationError } from '../../domain/errors';
import { newId } from '../../domain/ids';
import type { SandboxSpec, Task } from '../../domain/task';
import {
  RUNTIME_RECORD_STORE,
  type RuntimeRecord,
  type RuntimeRecordStore,
} from '../../ports/runtime-record-store.port';
import {
  SANDBOX_LABELS,
  SANDBOX_RUNTIME,
  type SandboxConfig,
  type SandboxRuntime,
} from '../../ports/sandbox-runtime.port';
import { registryId, resolveSandboxConfig } from './sandbox-policy';
import { SandboxPlacementService, sameEngine, type EngineRef } from './sandbox-placement.service';

/** Runtime-record kind of a warm sandbox (id = the task id it will have). */
export const POOL_KIND = 'pool';
const CONFIG_KIND = 'pool-config';
const TICK_MS = 5_000;
/** A member stuck in `creating` this long (its creator died) is removed. */
const CREATING_STALE_MS = 5 * 60_000;

interface MemberData {
  profile: string;
  spec: SandboxSpec;
  registry: string;
  instanceId: string;
  createdAt: string;
  /** The engine holding the member (absent in members made before engines were recorded). */
  engineId?: string;
  engineName?: string;
}

export interface PoolProfileStatus {
  profile: string;
  image: string;
  limits: { cpus: number; memoryMb: number; pids: number };
  network: string;
  idle: number;
  creating: number;
}

export interface PoolStatus {
  /** Idle sandboxes kept per profile (OPENCODE_WARM_POOL, or the last `pool --size`). */
  size: number;
  max: number;
  ttlMs: number;
  profiles: PoolProfileStatus[];
  /** Members claimed by tasks in the last moments (their records are cleared by the reconciler). */
  claimed: number;
}

/** Identifies a sandbox profile: everything of a resolved config except the task id and labels. */
export function profileKey(c: SandboxConfig): string {
  const env = Object.fromEntries(Object.entries(c.env).sort(([a], [b]) => a.localeCompare(b)));
  const shape = [
    c.image,
    c.cpus,
    c.memoryMb,
    c.pids,
    c.network,
    env,
    c.workdir,
    c.mounts,
    c.logMaxSize,
    c.logMaxFiles,
  ];
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 16);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The warm pool (README "Warm pool"): per sandbox profile, `size` sandboxes created, started and
 * hardened ahead of time, each already named and labelled for the task id it will be given.
 * `claim` hands one to a new task with one compare-and-set on its runtime record (no Docker call
 * but an inspect), so a task starts without waiting for create + start; long-running processes
 * (`serve`, `mcp`) refill in the background and remove members idle past the TTL. Every member
 * has its record before its container exists, so a killed server leaks nothing: the next one
 * reuses or reaps it, and the reconciler removes labelled leftovers without a record.
 */
@Injectable()
export class WarmPoolService implements OnApplicationShutdown {
  private readonly logger = new Logger('WarmPool');
  /** Profiles this process keeps warm: the default one, and every one a task asked for. */
  private readonly profiles = new Map<string, SandboxSpec>();
  private timer?: NodeJS.Timeout;
  private working?: Promise<void>;

  constructor(
    @Inject(SANDBOX_RUNTIME) private readonly runtime: SandboxRuntime,
    @Inject(RUNTIME_RECORD_STORE) private readonly records: RuntimeRecordStore,
    @Inject(OPENCODE_OPTIONS) private readonly options: OpenCodeToolsOptions,
    private readonly placement: SandboxPlacementService,
  ) {
    this.profiles.set(this.keyOf({}), {});
  }

  private keyOf(spec: SandboxSpec): string {
    return profileKey(resolveSandboxConfig('tsk_profile', spec, this.options));
  }

  /**
   * Claims an idle member fitting the task's sandbox spec; returns its id (the task's id from now
   * on), or undefined when none fits (the caller creates a sandbox as usual).
   */
  async claim(task: Task): Promise<string | undefined> {
    if (!task.sandbox) return undefined;
    let key: string;
    try {
      const config = resolveSandboxConfig(task.id, task.sandbox, this.options);
      if (config.mounts.length) return undefined; // host mounts are never pooled
      key = profileKey(config);
    } catch {
      return undefined; // provisioning reports what is wrong with the spec
    }
    if (!this.profiles.has(key)) this.profiles.set(key, task.sandbox);
    const idle = (await this.mine(['idle'])).filter(
      (r) => (r.data as unknown as MemberData).profile === key,
    );
    for (const r of idle) {
      const won = await this.records.update(POOL_KIND, r.id, r.version, {
        status: 'claimed',
        data: r.data,
        updatedAt: new Date().toISOString(),
      });
      if (!won) continue; // someone else claimed it first
      const info = await this.runtime.inspect(r.id).catch(() => null);
      if (info?.state === 'running') {
        this.kick();
        return r.id;
      }
      this.logger.warn(`warm sandbox ${r.id} was ${info?.state ?? 'gone'}; removing it`);
      await this.runtime.remove(r.id).catch(() => undefined);
      await this.records.delete(POOL_KIND, r.id);
    }
    this.kick();
    return undefined;
  }

  /** Idle members kept per profile: the last `pool --size`, else OPENCODE_WARM_POOL. */
  async size(): Promise<number> {
    const set = await this.records.get(CONFIG_KIND, 'size');
    const n = set?.data.size;
    return typeof n === 'number' ? n : this.options.sandbox.warmPool.size;
  }

  /** Changes the size for every process sharing this database; removes surplus idle members. */
  async resize(size: number): Promise<void> {
    if (!Number.isInteger(size) || size < 0) {
      throw new ValidationError('size', `must be a whole number >= 0, got ${size}`);
    }
    const max = this.options.sandbox.warmPool.max;
    if (size > max) {
      throw new ValidationError(
        'size',
        `${size} is above the total cap ${max} (OPENCODE_WARM_POOL_MAX)`,
      );
    }
    const now = new Date().toISOString();
    const cur = await this.records.get(CONFIG_KIND, 'size');
    if (!cur) {
      await this.records.insert({
        kind: CONFIG_KIND,
        id: 'size',
        status: 'set',
        data: { size },
        updatedAt: now,
      });
    } else {
      await this.records.update(CONFIG_KIND, 'size', cur.version, {
        status: 'set',
        data: { size },
        updatedAt: now,
      });
    }
    await this.trim(size);
  }

  async status(): Promise<PoolStatus> {
    const all = await this.mine();
    const byProfile = new Map<string, PoolProfileStatus>();
    for (const r of all) {
      const d = r.data as unknown as MemberData;
      if (r.status !== 'idle' && r.status !== 'creating') continue;
      let p = byProfile.get(d.profile);
      if (!p) {
        const c = resolveSandboxConfig(r.id, d.spec, this.options);
        p = {
          profile: d.profile,
          image: c.image,
          limits: { cpus: c.cpus, memoryMb: c.memoryMb, pids: c.pids },
          network: c.network,
          idle: 0,
          creating: 0,
        };
        byProfile.set(d.profile, p);
      }
      if (r.status === 'idle') p.idle++;
      else p.creating++;
    }
    return {
      size: await this.size(),
      max: this.options.sandbox.warmPool.max,
      ttlMs: this.options.sandbox.warmPool.ttlMs,
      profiles: [...byProfile.values()],
      claimed: all.filter((r) => r.status === 'claimed').length,
    };
  }

  /** One maintenance pass: reap idle members past the TTL and stale creations, then refill. */
  maintain(): Promise<void> {
    this.working ??= this.pass().finally(() => (this.working = undefined));
    return this.working;
  }

  /** For long-running processes: maintain now and every few seconds; refill after each claim. */
  startTimer(): void {
    if (this.timer) return;
    const tick = () =>
      this.maintain().catch((e: Error) => this.logger.warn(`warm pool: ${e.message}`));
    void tick();
    this.timer = setInterval(tick, TICK_MS);
    this.timer.unref();
  }

  stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopTimer();
    await this.working?.catch(() => undefined);
  }

  private kick(): void {
    if (this.timer) setImmediate(() => void this.maintain().catch(() => undefined));
  }

  private async pass(): Promise<void> {
    await this.reap();
    await this.fill();
  }

  /** Members of this registry on this engine (other hosts' engines keep pools of their own). */
  private async mine(status?: string[]): Promise<RuntimeRecord[]> {
    const reg = registryId(this.options);
    const here = await this.placement.here();
    return (await this.records.list(POOL_KIND, status ? { status } : undefined)).filter((r) => {
      const d = r.data as unknown as MemberData;
      return d.registry === reg && (!d.engineId || sameEngine(d as EngineRef, here));
    });
  }

  private async reap(): Promise<void> {
    const ttl = this.options.sandbox.warmPool.ttlMs;
    const now = Date.now();
    for (const r of await this.mine()) {
      const age = now - Date.parse(r.updatedAt);
      const stale =
        (r.status === 'idle' && age > ttl) || (r.status === 'creating' && age > CREATING_STALE_MS);
      if (stale) await this.removeMember(r, `idle past ${ttl}ms`);
    }
  }

  /** Removes idle members beyond `size` per profile. */
  private async trim(size: number): Promise<void> {
    const per = new Map<string, number>();
    for (const r of await this.mine()) {
      if (r.status !== 'idle') continue;
      const p = (r.data as unknown as MemberData).profile;
      const n = (per.get(p) ?? 0) + 1;
      per.set(p, n);
      if (n > size) await this.removeMember(r, 'pool shrunk');
    }
  }

  private async removeMember(r: RuntimeRecord, why: string): Promise<void> {
    // Take it out of the pool first, so nobody claims it while it goes.
    const won = await this.records.update(POOL_KIND, r.id, r.version, {
      status: 'removing',
      data: r.data,
      updatedAt: new Date().toISOString(),
    });
    if (!won) return;
    await this.runtime.remove(r.id).catch((e: Error) => {
      this.logger.warn(`could not remove warm sandbox ${r.id}: ${e.message}`);
    });
    await this.records.delete(POOL_KIND, r.id);
    this.logger.log(`removed warm sandbox ${r.id} (${why})`);
  }

  /** Creates members until every kept profile has `size` (the total cap permitting). */
  async fill(): Promise<void> {
    const size = await this.size();
    if (size === 0) return this.trim(0);
    const max = this.options.sandbox.warmPool.max;
    for (const [key, spec] of this.profiles) {
      for (;;) {
        const members = (await this.mine()).filter(
          (r) => r.status === 'idle' || r.status === 'creating',
        );
        const here = members.filter((r) => (r.data as unknown as MemberData).profile === key);
        if (here.length >= size || members.length >= max) break;
        if (!(await this.createMember(key, spec))) {
          await sleep(1000); // an engine error: try again next tick
          return;
        }
      }
    }
  }

  private async createMember(key: string, spec: SandboxSpec): Promise<boolean> {
    const id = newId('tsk');
    const config = resolveSandboxConfig(id, spec, this.options);
    config.labels[SANDBOX_LABELS.pool] = key;
    const data: MemberData = {
      profile: key,
      spec,
      registry: registryId(this.options),
      instanceId: this.options.instanceId,
      createdAt: new Date().toISOString(),
      ...(await this.placement.here()),
    };
    // The record first: a crash after this point leaves something the next process can find.
    const { record } = await this.records.insert({
      kind: POOL_KIND,
      id,
      taskId: id,
      status: 'creating',
      data: data as unknown as Record<string, unknown>,
      updatedAt: data.createdAt,
    });
    try {
      await this.runtime.create(config);
      await this.runtime.start(id);
      await this.records.update(POOL_KIND, id, record.version, {
        status: 'idle',
        data: record.data,
        updatedAt: new Date().toISOString(),
      });
      return true;
    } catch (e) {
      this.logger.warn(`could not create a warm sandbox: ${(e as Error).message}`);
      await this.runtime.remove(id).catch(() => undefined);
      await this.records.delete(POOL_KIND, id);
      return false;
    }
  }
}
