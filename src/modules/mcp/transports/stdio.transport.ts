import type { Readable, Writable } from 'node:stream';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { InFlight } from '../in-flight';
import type { McpToolDefinition } from '../mcp-tool';
import type { McpToolRegistry } from '../mcp-tool.registry';

export interface StdioHandle {
  /** Resolves when the client closes stdin or `stop()` is called. */
  closed: Promise<void>;
  /** Closes the server once running tool calls finish (up to `drainMs`). */
  stop(drainMs?: number): Promise<void>;
}

const DRAIN_MS = 30_000;

/**
 * Serves MCP over stdio: JSON-RPC frames on `stdout` and nothing else, so everything this process
 * logs must go to stderr (the CLI's logger does; `routeConsoleToStderr` covers stray console calls).
 */
export async function serveStdio(
  registry: McpToolRegistry,
  stdin: Readable = process.stdin,
  stdout: Writable = process.stdout,
  extraTools: readonly McpToolDefinition[] = [],
): Promise<StdioHandle> {
  const { StdioServerTransport } = await import('@modelcontextprotocol/sdk/server/stdio.js');
  const inFlight = new InFlight();
  const server = await registry.createServer(extraTools);
  const transport = new StdioServerTransport(stdin, stdout);
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let stopping: Promise<void> | undefined;
  const stop = (drainMs = 0) => {
    stopping ??= (async () => {
      // Requests read just before stdin ended start on a later tick; let them begin, then finish.
      await new Promise((r) => setImmediate(r));
      if (drainMs > 0) await inFlight.idle(drainMs);
      await server.close();
    })()
      .catch(() => {})
      .finally(() => {
        stdin.off('end', onEnd);
        stdin.pause();
        resolveClosed();
      });
    return stopping;
  };
  // The SDK transport does not notice stdin ending; a client that exits must stop the server.
  const onEnd = () => void stop(DRAIN_MS);
  stdin.once('end', onEnd);
  server.server.onclose = () => void stop();
  // A malformed frame is reported and skipped; the session goes on.
  server.server.onerror = (err) =>
    process.stderr.write(`mcp stdio: ignored a bad message: ${err.message}\n`);
  await server.connect(transport);
  trackRequests(transport, inFlight);
  return { closed, stop };
}

/**
 * Counts requests from their arrival until their response has been written, so that stopping
 * waits for answers to be on stdout (a tool call's handler finishing is not enough: the SDK writes
 * the response a few ticks later).
 */
function trackRequests(transport: Transport, inFlight: InFlight): void {
  const open = new Map<string | number, () => void>();
  const receive = transport.onmessage;
  transport.onmessage = (message, extra) => {
    if ('method' in message && 'id' in message && !open.has(message.id)) {
      open.set(message.id, inFlight.begin());
    }
    receive?.(message, extra);
  };
  const send = transport.send.bind(transport);
  transport.send = async (message, options) => {
    try {
      await send(message, options);
    } finally {
      if (!('method' in message) && 'id' in message && message.id !== undefined) {
        open.get(message.id)?.();
        open.delete(message.id);
      }
    }
  };
}

/** Sends console.log/info/debug to stderr for the life of a stdio server; returns the undo. */
export function routeConsoleToStderr(): () => void {
  const saved = { log: console.log, info: console.info, debug: console.debug };
  console.log = console.info = console.debug = console.error;
  return () => Object.assign(console, saved);
}
