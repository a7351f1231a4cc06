import type { z } from 'zod';

/** What a tool handler may use besides its arguments; built from the SDK's request context. */
export interface ToolContext {
  /** Aborted when the client cancels the call or the session closes. */
  signal: AbortSignal;
  /** The MCP session (HTTP), if any. */
  sessionId?: string;
  /**
   * Sends a `notifications/progress` for this call when the client asked for progress (sent a
   * progress token); otherwise does nothing.
   */
  progress(progress: number, total?: number, message?: string): Promise<void>;
}

/** A tool's answer: `structured` becomes `structuredContent`, `text` the text content block. */
export interface ToolOutput {
  structured: Record<string, unknown>;
  /** A short summary; the structured JSON is appended for text-only clients unless `fullText`. */
  text: string;
  /** `text` already carries everything a model needs in readable form (raw output, file text). */
  fullText?: boolean;
}

/** MCP tool annotations; hints a client may use to decide what needs the user's confirmation. */
export interface ToolHints {
  readOnlyHint: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

/**
 * One MCP tool, transport-free: plain zod shapes and an async handler. The server factory turns it
 * into `McpServer.registerTool(...)`; the SDK validates arguments against `input` before calling
 * `handler`, and domain errors thrown by the handler become `isError` results.
 */
export interface McpToolDefinition<
  I extends z.ZodRawShape = z.ZodRawShape,
  O extends z.ZodRawShape = z.ZodRawShape,
> {
  name: string;
  title: string;
  description: string;
  input: I;
  output: O;
  annotations: ToolHints;
  handler(args: z.output<z.ZodObject<I>>, ctx: ToolContext): Promise<ToolOutput>;
}

/** Keeps the argument types of `handler` tied to `input` while building a list of tools. */
export function defineTool<I extends z.ZodRawShape, O extends z.ZodRawShape>(
  def: McpToolDefinition<I, O>,
): McpToolDefinition {
  return def as unknown as McpToolDefinition;
}

/**
 * Implemented by every injectable that contributes tools. A provider whose backing service is not
 * present (e.g. no Docker module in an embedding app) returns an empty list.
 */
export interface McpToolProvider {
  tools(): McpToolDefinition[];
}

/** Tags a class as a tool provider for {@link McpToolRegistry} (the list is in `mcp.module.ts`). */
export const MCP_TOOL_PROVIDERS = Symbol('opencode-tools:McpToolProviders');
