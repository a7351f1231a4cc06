import { Logger } from '@nestjs/common';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { DomainError } from '../../domain/errors';
import { phraseInputErrorsLikeDomainErrors } from './input-errors';
import type { McpToolDefinition, ToolContext } from './mcp-tool';
import { errorResult, okResult } from './tool-result';
import type { McpCallEvent, McpCallListener } from './mcp.events';

const VERSION = (require('../../../package.json') as { version: string }).version;

const INSTRUCTIONS = `OpenCode Tools: isolated sandboxes and a durable task record for coding agents.
Typical flow: create_task_sandbox -> resume_task (starts it) -> work in the task -> complete_task or fail_task.
Every tool that acts on a task takes its "taskId". Errors come back as results whose text starts with an error code (NOT_FOUND, VALIDATION, ILLEGAL_TRANSITION, CONFLICT, ...) followed by what to do next.`;

const logger = new Logger('McpServer');

interface RequestExtra {
  signal: AbortSignal;
  sessionId?: string;
  _meta?: { progressToken?: string | number };
  sendNotification(n: { method: string; params: Record<string, unknown> }): Promise<void>;
}

function contextFrom(extra: RequestExtra): ToolContext {
  const token = extra._meta?.progressToken;
  return {
    signal: extra.signal,
    sessionId: extra.sessionId,
    async progress(progress, total, message) {
      if (token === undefined || extra.signal.aborted) return;
      const params: Record<string, unknown> = { progressToken: token, progress };
      if (total !== undefined) params.total = total;
      if (message !== undefined) params.message = message;
      // A progress notification that cannot be delivered must not fail the call.
      await extra.sendNotification({ method: 'notifications/progress', params }).catch(() => {});
    },
  };
}

/** Registers one transport-free tool definition on an SDK server, mapping errors to results. */
function register(server: McpServer, def: McpToolDefinition, onCall?: McpCallListener): void {
  // Strict input: a misspelt argument (task_id, timeout) is named instead of silently ignored.
  // Loose output: fields added later must not make older clients reject the result.
  const config = {
    title: def.title,
    description: def.description,
    inputSchema: z.object(def.input).strict(),
    outputSchema: z.looseObject(def.output),
    annotations: { title: def.title, openWorldHint: false, ...def.annotations },
  };
  const callback = async (args: unknown, extra: RequestExtra) => {
    const t0 = performance.now();
    const done = (outcome: McpCallEvent['outcome']) => {
      try {
        onCall?.({ tool: def.name, outcome, durationMs: performance.now() - t0 });
      } catch {
        // Observers never change a tool's answer.
      }
    };
    try {
      const out = okResult(await def.handler(args as never, contextFrom(extra)));
      done('ok');
      return out;
    } catch (err) {
      if (!(err instanceof DomainError)) {
        logger.error(`tool ${def.name} failed: ${err instanceof Error ? err.stack : String(err)}`);
      }
      done(err instanceof DomainError ? err.code : 'INTERNAL');
      return errorResult(err);
    }
  };
  server.registerTool(def.name, config, callback as never);
}

export interface CreateMcpServerOptions {
  /** Name reported in `initialize`; default "opencode-tools". */
  name?: string;
  /** Told about every tool call once it has its answer (metrics). */
  onCall?: McpCallListener;
}

/**
 * Builds an SDK `McpServer` with the given tools. The SDK is imported here, lazily, so that CLI
 * commands which never speak MCP do not load it. One server serves one transport (one session).
 */
export async function createMcpServer(
  tools: readonly McpToolDefinition[],
  options: CreateMcpServerOptions = {},
): Promise<McpServer> {
  const { McpServer } = await import('@modelcontextprotocol/sdk/server/mcp.js');
  const server = new McpServer(
    { name: options.name ?? 'opencode-tools', version: VERSION },
    { capabilities: { tools: {} }, instructions: INSTRUCTIONS },
  );
  phraseInputErrorsLikeDomainErrors(server);
  for (const def of tools) register(server, def, options.onCall);
  return server;
}
