import { Inject, Injectable, Optional } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { OPENCODE_OPTIONS, type OpenCodeToolsOptions } from '../../config/options';
import { SANDBOX_RUNTIME, type SandboxRuntime } from '../../ports/sandbox-runtime.port';
import { TasksService } from '../tasks/tasks.service';

/** Below this much free space in the data home, `disk` is reported down (default 512 MiB). */
export const DEFAULT_MIN_FREE_DISK_BYTES = 512 * 1024 * 1024;
/** How long one check may take before it counts as down. */
export const HEALTH_CHECK_TIMEOUT_MS = 3_000;

export type CheckStatus = 'ok' | 'down';

export interface HealthCheck {
  status: CheckStatus;
  /** How long the check took. */
  ms: number;
  /** Why it is down. */
  error?: string;
  [key: string]: unknown;
}

export interface HealthReport {
  /** `down` when any check is down. */
  status: CheckStatus;
  at: string;
  checks: { engine: HealthCheck; database: HealthCheck; disk: HealthCheck };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms}ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

async function timed(
  what: string,
  fn: () => Promise<Record<string, unknown>>,
  extra: Record<string, unknown> = {},
): Promise<HealthCheck> {
  const t0 = performance.now();
  const ms = () => Math.round((performance.now() - t0) * 10) / 10;
  try {
    const facts = await withTimeout(fn(), HEALTH_CHECK_TIMEOUT_MS, what);
    const down = facts.status === 'down';
    return { ...extra, ...facts, status: down ? 'down' : 'ok', ms: ms() };
  } catch (err) {
    return { ...extra, status: 'down', ms: ms(), error: (err as Error).message };
  }
}

/**
 * Engine, database and disk checks for `health`, `/api/system` and the `opencode_up` metrics.
 * Each check has its own timeout, so a hung engine never hangs the report.
 * @example
 * const report = await health.check();
 * if (report.status === 'down') page(report.checks);
 */
@Injectable()
export class HealthService {
  constructor(
    @Inject(OPENCODE_OPTIONS) private readonly options: OpenCodeToolsOptions,
    private readonly tasks: TasksService,
    @Optional() @Inject(SANDBOX_RUNTIME) private readonly runtime?: SandboxRuntime,
  ) {}

  async check(opts: { minFreeDiskBytes?: number } = {}): Promise<HealthReport> {
    const [engine, database, disk] = await Promise.all([
      this.engine(),
      this.database(),
      this.disk(opts.minFreeDiskBytes ?? DEFAULT_MIN_FREE_DISK_BYTES),
    ]);
    const down = [engine, database, disk].some((c) => c.status === 'down');
    return {
      status: down ? 'down' : 'ok',
      at: new Date().toISOString(),
      checks: { engine, database, disk },
    };
  }

  engine(): Promise<HealthCheck> {
    const runtime = this.runtime;
    const kind = this.options.sandbox.runtime;
    if (!runtime) {
      return Promise.resolve({ status: 'down', ms: 0, runtime: kind, error: 'no sandbox runtime' });
    }
    return timed('the sandbox engine', async () => ({ ...(await runtime.ping()) }), {
      runtime: kind,
      description: runtime.description,
    });
  }

  database(): Promise<HealthCheck> {
    return timed(
      'the database',
      async () => {
        const page = await this.tasks.list({ limit: 1 });
        return { tasks: page.total };
      },
      { driver: this.options.database.driver },
    );
  }

  disk(minFreeBytes: number): Promise<HealthCheck> {
    let path = this.options.home;
    while (!existsSync(path) && dirname(path) !== path) path = dirname(path);
    return timed(
      'the disk',
      async () => {
        const s = await statfs(path);
        const freeBytes = s.bavail * s.bsize;
        const totalBytes = s.blocks * s.bsize;
        const facts: Record<string, unknown> = {
          freeBytes,
          totalBytes,
          freePercent: totalBytes ? Math.round((freeBytes / totalBytes) * 1000) / 10 : 0,
          minFreeBytes: minFreeBytes,
        };
        if (freeBytes < minFreeBytes) {
          facts.status = 'down';
          facts.error = `only ${Math.round(freeBytes / 1048576)} MiB free under ${path} (minimum ${Math.round(minFreeBytes / 1048576)} MiB); free some space`;
        }
        return facts;
      },
      { path },
    );
  }
}
