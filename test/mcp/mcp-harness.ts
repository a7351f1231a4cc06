import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { McpModule } from '../../src/modules/mcp/mcp.module';
import { McpToolRegistry } from '../../src/modules/mcp/mcp-tool.registry';
import type { OpenCodeToolsOptionsInput } from '../../src/config/options';
import {
  OpenCodeToolsModule,
  type OpenCodeToolsModuleExtras,
} from '../../src/opencode-tools.module';
import { tempHome } from '../helpers/temp-home';

@Module({})
class McpTestRoot {}

/**
 * A Nest container with the in-memory store and the MCP module, as the CLI builds it; sandboxes
 * in-process unless a Docker `sandbox` configuration is given.
 */
export async function mcpApp(
  sandbox: OpenCodeToolsOptionsInput['sandbox'] = { runtime: 'memory' },
  extras: OpenCodeToolsModuleExtras = {},
): Promise<{
  app: INestApplicationContext;
  registry: McpToolRegistry;
  close: () => Promise<void>;
}> {
  const home = tempHome('oct-mcp-');
  const app = await NestFactory.createApplicationContext(
    {
      module: McpTestRoot,
      imports: [
        OpenCodeToolsModule.forRoot(
          {
            home: home.dir,
            database: { driver: 'memory' },
            sandbox,
          },
          extras,
        ),
        McpModule,
      ],
    },
    { logger: false },
  );
  return {
    app,
    registry: app.get(McpToolRegistry),
    close: async () => {
      await app.close();
      home.cleanup();
    },
  };
}

/** A real SDK client connected to a fresh server over the in-memory transport pair. */
export async function inMemoryClient(registry: McpToolRegistry): Promise<Client> {
  const server = await registry.createServer();
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'test', version: '0.0.0' });
  await client.connect(clientSide);
  return client;
}

export type ToolResult = CallToolResult & { structuredContent?: Record<string, any> };

export async function call(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<ToolResult> {
  return (await client.callTool({ name, arguments: args })) as ToolResult;
}

/** Calls a tool that must succeed and returns its structured content. */
export async function ok(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<Record<string, any>> {
  const r = await call(client, name, args);
  if (r.isError) throw new Error(`${name} failed: ${JSON.stringify(r.content)}`);
  return r.structuredContent as Record<string, any>;
}

/** The text blocks of a result, joined (error messages, summaries). */
export function textOf(r: ToolResult): string {
  return (r.content as { type: string; text: string }[]).map((c) => c.text).join('\n');
}

/** The text of an error result. */
export const errorText = textOf;
