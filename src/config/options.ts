import { resolve } from 'node:path';
import {
  resolvePersistenceOptions,
  type PersistenceOptions,
  type PersistenceOptionsInput,
} from './persistence-options';
import {
  resolveSandboxOptions,
  type SandboxOptions,
  type SandboxOptionsInput,
} from './sandbox-options';

export const OPENCODE_OPTIONS = Symbol('opencode-tools:Options');

export type DatabaseOptions =
  | { driver: 'sqlite'; path: string }
  | { driver: 'memory' }
  | {
      driver: 'postgres';
      url: string;
      /** Connections in this process's pool (default 10). */
      poolSize?: number;
      /** How long one connection attempt may take before start-up fails (default 5000 ms). */
      connectTimeoutMs?: number;
    };

/** Everything the modules need, resolved. Build it with `resolveOptions()` or `loadConfigFromEnv()`. */
export interface OpenCodeToolsOptions {
  /** Data home: database file, JSONL logs, hook config. */
  home: string;
  database: DatabaseOptions;
  /** SQLite: how long a writer waits for another process's write lock (ms). */
  sqliteBusyTimeoutMs: number;
  /** Image used when a task does not name one. */
  sandboxImage: string;
  /** JSON file declaring command hooks; missing file = no command hooks. */
  hooksFile: string;
  /** Default timeout of a command hook (ms). */
  hookTimeoutMs: number;
  /** Identifies this orchestrator process in labels and leases. */
  instanceId: string;
  mcp: { host: string; port: number; token?: string };
  /** Task memory: log group commit and fsync policy, log and state size caps. */
  persistence: PersistenceOptions;
  /** Docker module: sandbox defaults, operator maximums, exec and reconcile settings. */
  sandbox: SandboxOptions;
}

export type OpenCodeToolsOptionsInput = Partial<
  Omit<OpenCodeToolsOptions, 'mcp' | 'sandbox' | 'persistence'>
> & {
  persistence?: PersistenceOptionsInput;
  mcp?: Partial<OpenCodeToolsOptions['mcp']>;
  sandbox?: SandboxOptionsInput;
};

export const DEFAULTS = {
  home: './.opencode',
  sqliteBusyTimeoutMs: 10_000,
  sandboxImage: 'debian:bookworm-slim',
  hookTimeoutMs: 10_000,
  mcpHost: '127.0.0.1',
  mcpPort: 3000,
} as const;

/** Fills defaults for an embedding app that passes a partial options object. */
export function resolveOptions(input: OpenCodeToolsOptionsInput = {}): OpenCodeToolsOptions {
  const home = resolve(input.home ?? DEFAULTS.home);
  return {
    home,
    database: input.database ?? { driver: 'sqlite', path: resolve(home, 'opencode.db') },
    sqliteBusyTimeoutMs: input.sqliteBusyTimeoutMs ?? DEFAULTS.sqliteBusyTimeoutMs,
    sandboxImage: input.sandboxImage ?? DEFAULTS.sandboxImage,
    hooksFile: input.hooksFile ?? resolve(home, 'hooks.json'),
    hookTimeoutMs: input.hookTimeoutMs ?? DEFAULTS.hookTimeoutMs,
    instanceId: input.instanceId ?? `${process.pid}-${Date.now().toString(36)}`,
    mcp: {
      host: input.mcp?.host ?? DEFAULTS.mcpHost,
      port: input.mcp?.port ?? DEFAULTS.mcpPort,
      token: input.mcp?.token,
    },
    persistence: resolvePersistenceOptions(input.persistence),
    sandbox: resolveSandboxOptions(input.sandbox),
  };
}
