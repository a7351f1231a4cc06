import { request } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  startMcpHttpServer,
  type McpHttpServer,
} from '../../src/modules/mcp/transports/http.transport';
import { assertSafeBind, checkHostAndOrigin } from '../../src/modules/mcp/transports/http-security';
import { ALL_TOOLS } from './invalid-args';
import { call, errorText, mcpApp, ok } from './mcp-harness';

const TOKEN = 'test-token-0123456789abcdef';

async function connect(url: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: 'http-test', version: '0.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }),
  );
  return client;
}

/** A raw request, so that Host and Authorization can be anything. */
function raw(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: opts.method ?? 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...opts.headers,
        },
      },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body ?? '');
  });
}

const INIT = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'raw', version: '1' },
  },
});

describe('MCP over Streamable HTTP', () => {
  let ctx: Awaited<ReturnType<typeof mcpApp>>;
  let open: McpHttpServer;
  let guarded: McpHttpServer;

  beforeAll(async () => {
    ctx = await mcpApp();
    open = await startMcpHttpServer(ctx.registry, { host: '127.0.0.1', port: 0, log: () => {} });
    guarded = await startMcpHttpServer(ctx.registry, {
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      maxBodyBytes: 64 * 1024,
      log: () => {},
    });
  });
  afterAll(async () => {
    await open?.close(1000);
    await guarded?.close(1000);
    await ctx?.close();
  });

  it('serves tools/list and a task lifecycle to a real client, and /health', async () => {
    const client = await connect(open.url);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...ALL_TOOLS].sort());
    const t = await ok(client, 'create_task_sandbox', { name: 'over http' });
    expect(await ok(client, 'get_task_status', { taskId: t.taskId })).toMatchObject({
      status: 'pending',
    });
    const bad = await call(client, 'get_task_status', {});
    expect(errorText(bad)).toMatch(/^VALIDATION: .*taskId/);
    expect(await ok(client, 'resume_task', { taskId: t.taskId })).toMatchObject({
      status: 'running',
    });
    await client.close();
    const health = await raw(open.url.replace('/mcp', '/health'), { method: 'GET' });
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'ok' });
  });

  it('answers 403 to a foreign Host or Origin (DNS rebinding)', async () => {
    const wrongHost = await raw(open.url, { headers: { host: 'evil.example:3000' }, body: INIT });
    expect(wrongHost.status).toBe(403);
    expect(wrongHost.body).toMatch(/Host header/);
    const wrongOrigin = await raw(open.url, {
      headers: { origin: 'http://evil.example' },
      body: INIT,
    });
    expect(wrongOrigin.status).toBe(403);
    const goodOrigin = await raw(open.url, {
      headers: { origin: `http://localhost:${open.port}` },
      body: INIT,
    });
    expect(goodOrigin.status).toBe(200);
  });

  it('answers 401 without the bearer token, or with a wrong one', async () => {
    expect((await raw(guarded.url, { body: INIT })).status).toBe(401);
    const wrong = await raw(guarded.url, {
      headers: { authorization: 'Bearer nope' },
      body: INIT,
    });
    expect(wrong.status).toBe(401);
    await expect(connect(guarded.url)).rejects.toThrow();
    const client = await connect(guarded.url, { authorization: `Bearer ${TOKEN}` });
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await client.close();
  });

  it('limits the request body and rejects requests without a session', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const big = await raw(guarded.url, { headers: auth, body: 'x'.repeat(65 * 1024) });
    expect(big.status).toBe(413);
    const noSession = await raw(guarded.url, {
      headers: auth,
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    expect(noSession.status).toBe(400);
    const unknownSession = await raw(guarded.url, {
      headers: { ...auth, 'mcp-session-id': 'nope' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    expect(unknownSession.status).toBe(404);
  });

  it('keeps two sessions apart while they call concurrently', async () => {
    const [a, b] = await Promise.all([connect(open.url), connect(open.url)]);
    const runs = await Promise.all(
      [a, b].flatMap((c, i) =>
        Array.from({ length: 5 }, (_, j) =>
          ok(c, 'create_task_sandbox', { name: `s${i}-${j}`, owner: `owner-${i}` }),
        ),
      ),
    );
    expect(new Set(runs.map((r) => r.taskId)).size).toBe(10);
    const [pa, pb] = await Promise.all([
      ok(a, 'list_tasks', { owner: 'owner-0' }),
      ok(b, 'list_tasks', { owner: 'owner-1' }),
    ]);
    expect([pa.total, pb.total]).toEqual([5, 5]);
    expect(open.sessionCount()).toBeGreaterThanOrEqual(2);
    await Promise.all([a.close(), b.close()]);
  });

  it('streams progress of a long command to the HTTP client', async () => {
    const client = await connect(open.url);
    const t = await ok(client, 'create_task_sandbox', { name: 'progress over http' });
    await ok(client, 'attach_agent_to_task', { taskId: t.taskId, agentId: 'h1' });
    await ok(client, 'resume_task', { taskId: t.taskId, agentId: 'h1' });
    const seen: string[] = [];
    const r = await client.callTool(
      {
        name: 'execute_in_task',
        arguments: { taskId: t.taskId, agentId: 'h1', command: ['sleep', '1.3'] },
      },
      undefined,
      { onprogress: (p) => seen.push(p.message ?? '') },
    );
    expect(r.structuredContent).toMatchObject({ exitCode: 0 });
    expect(seen[0]).toMatch(/^running for \d+s/);
    await client.close();
  });

  it('closes idle sessions, but not ones listening on a stream', async () => {
    const http = await startMcpHttpServer(ctx.registry, {
      host: '127.0.0.1',
      port: 0,
      sessionIdleMs: 300,
      log: () => {},
    });
    const client = await connect(http.url); // the SDK client keeps a GET stream open
    const initOnly = await raw(http.url, { body: INIT });
    expect(initOnly.status).toBe(200);
    expect(http.sessionCount()).toBe(2);
    await new Promise((r) => setTimeout(r, 1200));
    expect(http.sessionCount()).toBe(1);
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await client.close();
    await http.close(1000);
  });

  it('says clearly when the port is taken', async () => {
    await expect(
      startMcpHttpServer(ctx.registry, { host: '127.0.0.1', port: open.port, log: () => {} }),
    ).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/already in use/) });
  });

  it('refuses to bind beyond loopback without a token', () => {
    expect(() => assertSafeBind('0.0.0.0', undefined)).toThrow(/OPENCODE_MCP_TOKEN: is required/);
    expect(() => assertSafeBind('0.0.0.0', 'short')).toThrow(/at least 16/);
    expect(() => assertSafeBind('0.0.0.0', TOKEN)).not.toThrow();
    expect(() => assertSafeBind('::1', undefined)).not.toThrow();
    expect(checkHostAndOrigin({ host: '[::1]:3000' }, new Set(['[::1]']), [])).toBeUndefined();
  });
});
