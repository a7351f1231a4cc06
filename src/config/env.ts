import { resolve } from 'node:path';
import { ValidationError } from '../domain/errors';
import { PERSISTENCE_ENV_VARS, persistenceOptionsFromEnv } from './persistence-options';
import { parseDuration } from '../domain/duration';
import {
  DEFAULTS,
  type DatabaseOptions,
  type OpenCodeToolsOptions,
  resolveOptions,
} from './options';
import { SANDBOX_ENV_VARS, sandboxOptionsFromEnv } from './sandbox-options';

/** Every environment variable the tool reads, with its meaning; `--help` and the README list these. */
export const ENV_VARS: Record<string, string> = {
  OPENCODE_HOME: `data home (default ${DEFAULTS.home})`,
  OPENCODE_DATABASE_URL:
    'SQLite file path (or sqlite:PATH), "memory:" for a throwaway in-process store, or postgres://… (default: <home>/opencode.db)',
  OPENCODE_SQLITE_BUSY_TIMEOUT: `how long SQLite writers wait for each other (duration, default ${DEFAULTS.sqliteBusyTimeoutMs}ms)`,
  OPENCODE_SANDBOX_IMAGE: `default sandbox image (default ${DEFAULTS.sandboxImage})`,
  OPENCODE_HOOKS_FILE: 'JSON file of command hooks (default <home>/hooks.json)',
  OPENCODE_HOOK_TIMEOUT: `default command-hook timeout (duration, default ${DEFAULTS.hookTimeoutMs}ms)`,
  OPENCODE_INSTANCE_ID:
    'name of this orchestrator process in labels and leases (default pid-based)',
  OPENCODE_MCP_HOST: `HTTP bind address for serve (default ${DEFAULTS.mcpHost})`,
  OPENCODE_MCP_PORT: `HTTP port for serve (default ${DEFAULTS.mcpPort})`,
  OPENCODE_MCP_TOKEN: 'bearer token required by serve (mandatory when binding beyond loopback)',
  OPENCODE_PG_POOL_SIZE: 'Postgres: connections per process (default 10, 1-200)',
  OPENCODE_PG_CONNECT_TIMEOUT:
    'Postgres: connection attempt timeout (duration, default 5s); no retries',
  ...PERSISTENCE_ENV_VARS,
  ...SANDBOX_ENV_VARS,
};

function parseDatabaseUrl(
  raw: string,
  home: string,
  get: (k: string) => string | undefined,
): DatabaseOptions {
  const value = raw.trim();
  if (value === 'memory:' || value === ':memory:') return { driver: 'memory' };
  if (/^postgres(ql)?:\/\//.test(value)) {
    const pool = get('OPENCODE_PG_POOL_SIZE');
    const timeout = get('OPENCODE_PG_CONNECT_TIMEOUT');
    const poolSize = pool === undefined ? undefined : Number(pool);
    if (poolSize !== undefined && (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 200)) {
      throw new ValidationError(
        'OPENCODE_PG_POOL_SIZE',
        `'${pool}' is not a whole number from 1 to 200`,
      );
    }
    return {
      driver: 'postgres',
      url: value,
      poolSize,
      connectTimeoutMs: timeout ? parseDuration(timeout, 'OPENCODE_PG_CONNECT_TIMEOUT') : undefined,
    };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw new ValidationError(
      'OPENCODE_DATABASE_URL',
      `unsupported scheme in '${value.replace(/\/\/[^@/]*@/, '//***@')}'; use a SQLite file path, sqlite:PATH, memory: or postgres://…`,
    );
  }
  const path = value.replace(/^(sqlite|file):/, '');
  if (!path)
    throw new ValidationError(
      'OPENCODE_DATABASE_URL',
      'is empty; unset it or give a SQLite file path',
    );
  return { driver: 'sqlite', path: resolve(home, path) };
}

function parsePort(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new ValidationError('OPENCODE_MCP_PORT', `'${raw}' is not a port number (0-65535)`);
  }
  return n;
}

/**
 * Reads configuration from `OPENCODE_*` variables. An invalid value is an error naming the variable.
 * @example const options = loadConfigFromEnv(process.env);
 */
export function loadConfigFromEnv(env: NodeJS.ProcessEnv = process.env): OpenCodeToolsOptions {
  const get = (k: string) => (env[k] !== undefined && env[k] !== '' ? env[k] : undefined);
  const home = resolve(get('OPENCODE_HOME') ?? DEFAULTS.home);
  const dbUrl = get('OPENCODE_DATABASE_URL');
  const busy = get('OPENCODE_SQLITE_BUSY_TIMEOUT');
  const hookTimeout = get('OPENCODE_HOOK_TIMEOUT');
  const port = get('OPENCODE_MCP_PORT');
  const hooksFile = get('OPENCODE_HOOKS_FILE');
  return resolveOptions({
    home,
    database: dbUrl ? parseDatabaseUrl(dbUrl, home, get) : undefined,
    sqliteBusyTimeoutMs: busy ? parseDuration(busy, 'OPENCODE_SQLITE_BUSY_TIMEOUT') : undefined,
    sandboxImage: get('OPENCODE_SANDBOX_IMAGE'),
    hooksFile: hooksFile ? resolve(hooksFile) : undefined,
    hookTimeoutMs: hookTimeout ? parseDuration(hookTimeout, 'OPENCODE_HOOK_TIMEOUT') : undefined,
    instanceId: get('OPENCODE_INSTANCE_ID'),
    mcp: {
      host: get('OPENCODE_MCP_HOST'),
      port: port ? parsePort(port) : undefined,
      token: get('OPENCODE_MCP_TOKEN'),
    },
    persistence: persistenceOptionsFromEnv(get),
    sandbox: sandboxOptionsFromEnv(get),
  });
}
