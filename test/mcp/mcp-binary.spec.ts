import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { assertBuilt, BIN, cli } from '../helpers/cli';
import { tempHome } from '../helpers/temp-home';
import { ALL_TOOLS } from './invalid-args';
import { call, errorText, ok } from './mcp-harness';

const baseEnv = (home: string): Record<string, string> => ({
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '/tmp',
  OPENCODE_HOME: home,
  OPENCODE_SANDBOX_RUNTIME: 'memory',
});

function frames(messages: object[]): string {
  return messages.map((m) => JSON.stringify(m)).join('\n') + '\n';
}

/** Waits for `pattern` on a child's stream; rejects on exit or timeout. */
function waitFor(
  child: ChildProcessWithoutNullStreams,
  stream: 'stdout' | 'stderr',
  pattern: RegExp,
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${pattern}: ${text}`)),
      15_000,
    );
    child[stream].on('data', (c) => {
      text += c;
      const m = pattern.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before ${pattern}: ${text}`)));
  });
}

describe('the built binary as an MCP server', () => {
  let home: ReturnType<typeof tempHome>;
  beforeAll(() => assertBuilt());
  beforeEach(() => (home = tempHome('oct-mcpbin-')));
  afterEach(() => home.cleanup());

  it('mcp: writes only JSON-RPC frames on stdout and exits when stdin closes', async () => {
    const child = spawn(process.execPath, [BIN, 'mcp'], { env: baseEnv(home.dir) });
    let stdout = '';
    child.stdout.on('data', (c) => (stdout += c));
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    child.stdin.end(
      frames([
        {
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: {
            protocolVersion: '2025-06-18',
            capabilities: {},
            clientInfo: { name: 't', version: '1' },
          },
        },
        { jsonrpc: '2.0', method: 'notifications/initialized' },
        { jsonrpc: '2.0', id: 2, method: 'tools/list' },
        {
          jsonrpc: '2.0',
          id: 3,
          method: 'tools/call',
          params: { name: 'list_tasks', arguments: {} },
        },
      ]),
    );
    expect(await exited).toBe(0);
    const lines = stdout.trim().split('\n');
    const parsed = lines.map((l) => JSON.parse(l) as { id?: number; jsonrpc: string });
    expect(parsed.every((m) => m.jsonrpc === '2.0')).toBe(true);
    expect(parsed.map((m) => m.id).sort()).toEqual([1, 2, 3]);
  });

  it('mcp: exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [BIN, 'mcp'], { env: baseEnv(home.dir) });
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    const answered = waitFor(child, 'stdout', /"id":1/);
    child.stdin.write(
      frames([
        {
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: {
            protocolVersion: '2025-06-18',
            capabilities: {},
            clientInfo: { name: 't', version: '1' },
          },
        },
      ]),
    );
    await answered;
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('mcp: serves a real SDK client over stdio', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp'],
      env: baseEnv(home.dir),
      stderr: 'pipe',
    });
    const client = new Client({ name: 'stdio-test', version: '0.0.0' });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual([...ALL_TOOLS].sort());
      expect(tools.every((t) => t.inputSchema.type === 'object' && t.outputSchema)).toBe(true);
      const t = await ok(client, 'create_task_sandbox', { name: 'over stdio' });
      expect(await ok(client, 'get_task_status', { taskId: t.taskId })).toMatchObject({
        status: 'pending',
      });
      expect(errorText(await call(client, 'resume_task', { taskId: 42 }))).toMatch(
        /^VALIDATION: .*taskId/,
      );
      expect(await ok(client, 'resume_task', { taskId: t.taskId })).toMatchObject({
        status: 'running',
      });
    } finally {
      await client.close();
    }
    // The task was stored in the data home, where the CLI sees it.
    expect(cli(['list-tasks', '--json'], baseEnv(home.dir)).stdout).toMatch(/over stdio/);
  });

  it('serve: answers over HTTP, then drains and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0'], {
      env: baseEnv(home.dir),
    });
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    const [, url] = await waitFor(child, 'stderr', /listening on (http:\/\/\S+\/mcp)/);
    const client = new Client({ name: 'serve-test', version: '0.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url)));
    expect(await ok(client, 'create_task_sandbox', { name: 'over http' })).toMatchObject({
      status: 'pending',
    });
    await client.close();
    const stopped = waitFor(child, 'stderr', /stopped/);
    child.kill('SIGTERM');
    await stopped;
    expect(await exited).toBe(0);
  });

  it('other commands never load the MCP SDK', () => {
    const r = spawnSync(
      process.execPath,
      ['-r', join(__dirname, 'fixtures', 'report-sdk-load.js'), BIN, 'list-tasks', '--json'],
      { env: baseEnv(home.dir), encoding: 'utf8', timeout: 30_000 },
    );
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('mcp-sdk-loaded=false');
    // Nor the Docker client, nor nest-commander's prompt and plugin libraries (lazy proxies).
    for (const pkg of ['dockerode', 'inquirer', 'cosmiconfig', 'lodash'])
      expect(r.stderr).toContain(`loaded:${pkg}=false`);
  });

  it('serve: refuses to bind beyond loopback without OPENCODE_MCP_TOKEN', () => {
    const r = cli(['serve', '--host', '0.0.0.0', '--port', '0'], baseEnv(home.dir));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/OPENCODE_MCP_TOKEN: is required to bind to 0\.0\.0\.0/);
  });
});
