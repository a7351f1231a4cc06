import { resolve } from 'node:path';
import { loadConfigFromEnv } from '../../src/config/env';
import { ValidationError } from '../../src/domain/errors';
import { parseDuration } from '../../src/domain/duration';

describe('configuration from the environment', () => {
  it('defaults to a SQLite file in ./.opencode and loopback:3000', () => {
    const o = loadConfigFromEnv({});
    expect(o.home).toBe(resolve('.opencode'));
    expect(o.database).toEqual({ driver: 'sqlite', path: resolve('.opencode/opencode.db') });
    expect(o.mcp).toEqual({ host: '127.0.0.1', port: 3000, token: undefined });
    expect(o.hooksFile).toBe(resolve('.opencode/hooks.json'));
  });

  it('reads every variable', () => {
    const o = loadConfigFromEnv({
      OPENCODE_HOME: '/tmp/h',
      OPENCODE_DATABASE_URL: 'sqlite:db/x.db',
      OPENCODE_SQLITE_BUSY_TIMEOUT: '2s',
      OPENCODE_SANDBOX_IMAGE: 'busybox',
      OPENCODE_HOOK_TIMEOUT: '1m',
      OPENCODE_MCP_PORT: '8080',
      OPENCODE_MCP_HOST: '0.0.0.0',
      OPENCODE_MCP_TOKEN: 'secret',
    });
    expect(o.database).toEqual({ driver: 'sqlite', path: '/tmp/h/db/x.db' });
    expect(o.sqliteBusyTimeoutMs).toBe(2000);
    expect(o.hookTimeoutMs).toBe(60000);
    expect(o.sandboxImage).toBe('busybox');
    expect(o.mcp).toEqual({ host: '0.0.0.0', port: 8080, token: 'secret' });
    expect(loadConfigFromEnv({ OPENCODE_DATABASE_URL: 'memory:' }).database).toEqual({
      driver: 'memory',
    });
    expect(
      loadConfigFromEnv({ OPENCODE_DATABASE_URL: 'postgres://u:p@h/db' }).database.driver,
    ).toBe('postgres');
  });

  it.each([
    ['OPENCODE_MCP_PORT', 'abc'],
    ['OPENCODE_MCP_PORT', '70000'],
    ['OPENCODE_SQLITE_BUSY_TIMEOUT', 'soon'],
    ['OPENCODE_HOOK_TIMEOUT', '-1s'],
    ['OPENCODE_DATABASE_URL', 'mysql://u:pw@h/db'],
    ['OPENCODE_PG_POOL_SIZE', '0'],
    ['OPENCODE_PG_CONNECT_TIMEOUT', 'forever'],
  ])('an invalid %s=%s is an error naming the variable', (k, v) => {
    let err: unknown;
    try {
      loadConfigFromEnv({ OPENCODE_DATABASE_URL: 'postgres://u@h/db', [k]: v });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as Error).message).toContain(k);
    expect((err as Error).message).not.toContain('pw');
  });

  it('parses durations with units', () => {
    expect(parseDuration('500ms', 'x')).toBe(500);
    expect(parseDuration('30s', 'x')).toBe(30000);
    expect(parseDuration('2m', 'x')).toBe(120000);
    expect(parseDuration('1h', 'x')).toBe(3600000);
    expect(parseDuration('250', 'x')).toBe(250);
    expect(() => parseDuration('2 weeks', '--ttl')).toThrow('--ttl');
  });
});
