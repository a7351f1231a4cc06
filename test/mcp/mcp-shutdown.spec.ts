import { PassThrough } from 'node:stream';
import { z } from 'zod';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { defineTool } from '../../src/modules/mcp/mcp-tool';
import { startMcpHttpServer } from '../../src/modules/mcp/transports/http.transport';
import { serveStdio } from '../../src/modules/mcp/transports/stdio.transport';
import { mcpApp } from './mcp-harness';

/** A tool that takes a while, standing in for a long command. */
const slow = defineTool({
  name: 'slow',
  title: 'Slow',
  description: 'Waits, then answers.',
  input: { ms: z.number().int() },
  output: { waited: z.number() },
  annotations: { readOnlyHint: true },
  async handler(a) {
    await new Promise((r) => setTimeout(r, a.ms));
    return { structured: { waited: a.ms }, text: `waited ${a.ms}ms` };
  },
});

describe('shutdown lets in-flight calls finish', () => {
  let ctx: Awaited<ReturnType<typeof mcpApp>>;
  beforeAll(async () => (ctx = await mcpApp()));
  afterAll(async () => ctx?.close());

  it('HTTP: close() waits for a running call, then refuses new work', async () => {
    const http = await startMcpHttpServer(ctx.registry, {
      host: '127.0.0.1',
      port: 0,
      extraTools: [slow],
      log: () => {},
    });
    const client = new Client({ name: 't', version: '0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(http.url)));
    const call = client.callTool({ name: 'slow', arguments: { ms: 400 } });
    await new Promise((r) => setTimeout(r, 100));
    const closed = http.close(5000);
    const result = await call;
    expect(result.structuredContent).toEqual({ waited: 400 });
    await closed;
    await expect(client.listTools()).rejects.toThrow();
    await client.close();
  });

  it('stdio: the client closing stdin still gets the answers to calls already sent', async () => {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (c) => (out += c));
    const h = await serveStdio(ctx.registry, stdin, stdout, [slow]);
    const send = (m: object) => stdin.write(`${JSON.stringify(m)}\n`);
    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 't', version: '1' },
      },
    });
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'slow', arguments: { ms: 300 } },
    });
    stdin.end();
    await h.closed;
    const answers = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(answers.find((m) => m.id === 2)?.result?.structuredContent).toEqual({ waited: 300 });
  });
});
