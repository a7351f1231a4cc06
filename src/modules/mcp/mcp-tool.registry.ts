import { Inject, Injectable, Optional } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { createMcpServer, type CreateMcpServerOptions } from './mcp-server.factory';
import { MCP_TOOL_PROVIDERS, type McpToolDefinition, type McpToolProvider } from './mcp-tool';
import { MCP_EVENTS, type McpCallEvent } from './mcp.events';

/**
 * Collects the tools of every provider in the container and builds SDK servers from them.
 * @example
 * const server = await app.get(McpToolRegistry).createServer();
 * await server.connect(transport);
 */
@Injectable()
export class McpToolRegistry {
  private cached?: McpToolDefinition[];

  constructor(
    @Inject(MCP_TOOL_PROVIDERS) private readonly providers: McpToolProvider[],
    /** Every call is published as `opencode.mcp.call` (metrics); absent outside Nest. */
    @Optional() private readonly events?: EventEmitter2,
  ) {}

  /** Every tool, in provider order; names are unique. */
  tools(): McpToolDefinition[] {
    if (this.cached) return this.cached;
    const all = this.providers.flatMap((p) => (p ? p.tools() : []));
    const seen = new Set<string>();
    for (const t of all) {
      if (seen.has(t.name)) throw new Error(`duplicate MCP tool name '${t.name}'`);
      seen.add(t.name);
    }
    return (this.cached = all);
  }

  /** A new SDK server (one per session/transport) with all tools, plus `extra` ones if given. */
  createServer(
    extra: readonly McpToolDefinition[] = [],
    options: CreateMcpServerOptions = {},
  ): Promise<McpServer> {
    const events = this.events;
    const onCall = events ? (e: McpCallEvent) => events.emit(MCP_EVENTS.call, e) : undefined;
    return createMcpServer([...this.tools(), ...extra], { onCall, ...options });
  }
}
