import { request } from 'node:http';
import { PassThrough } from 'node:stream';
import { startMcpHttpServer } from '../../src/modules/mcp/transports/http.transport';
import { serveStdio } from '../../src/modules/mcp/transports/stdio.transport';
import { mcpApp } from './mcp-harness';

const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 't', version: '1' },
  },
};

describe('the server survives bad input', () => {
  let ctx: Awaited<ReturnType<typeof mcpApp>>;
  beforeAll(async () => (ctx = await mcpApp()));
  afterAll(async () => ctx?.close());

  it('stdio: a garbage line, an unknown tool and an unknown method do not stop it', async () => {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (c) => (out += c));
    const h = await serveStdio(ctx.registry, stdin, stdout);
    const send = (m: object | string) =>
      stdin.write(`${typeof m === 'string' ? m : JSON.stringify(m)}\n`);
    send(INIT);
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send('{not json');
    send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'nope', arguments: {} } });
    send({ jsonrpc: '2.0', id: 3, method: 'no/such/method' });
    send({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'task_stats' } });
    stdin.end();
    await h.closed;
    const byId = new Map(
      out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .map((m) => [m.id, m]),
    );
    expect(byId.get(2).result).toMatchObject({ isError: true });
    expect(byId.get(3).error).toMatchObject({ code: -32601 });
    expect(byId.get(4).result.structuredContent).toMatchObject({ total: 0 });
  });

  it('HTTP: malformed JSON is a 400, and the server keeps answering', async () => {
    const http = await startMcpHttpServer(ctx.registry, {
      host: '127.0.0.1',
      port: 0,
      log: () => {},
    });
    const post = (body: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          http.url,
          {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              accept: 'application/json, text/event-stream',
            },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    expect(await post('{oops')).toBe(400);
    expect(await post(JSON.stringify(INIT))).toBe(200);
    await http.close(1000);
  });
});
