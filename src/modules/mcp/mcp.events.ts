import type { ErrorCode } from '../../domain/errors';

/** EventEmitter2 events of the MCP servers (listen with `@OnEvent(MCP_EVENTS.call)`). */
export const MCP_EVENTS = {
  /** A tool call got its answer: {@link McpCallEvent}. */
  call: 'opencode.mcp.call',
} as const;

export interface McpCallEvent {
  tool: string;
  /** `ok`, or the error code of an `isError` result. */
  outcome: 'ok' | ErrorCode;
  durationMs: number;
}

export type McpCallListener = (e: McpCallEvent) => void;
