import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { DomainError, ValidationError } from '../../../domain/errors';
import { InFlight } from '../in-flight';
import type { McpToolDefinition } from '../mcp-tool';
import type { McpToolRegistry } from '../mcp-tool.registry';
import {
  allowedHostnames,
  assertSafeBind,
  bearerMatches,
  checkHostAndOrigin,
  cookieMatches,
  sessionCookie,
} from './http-security';

/**
 * More routes on the same server (the dashboard and its API), behind the same Host/Origin checks
 * and the same token. `handle` answers and returns true, or returns false (404).
 */
export interface HttpRoutes {
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> | boolean;
  /** Called once when the server closes (end open streams). */
  close?(): void;
}

export interface McpHttpOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** When set, every /mcp request must carry `Authorization: Bearer <token>`. */
  token?: string;
  /** Extra host names a client may use in `Host` (e.g. a DNS name for a wildcard bind). */
  allowedHosts?: readonly string[];
  /** Extra exact origins a browser client may send (`https://app.example`). */
  allowedOrigins?: readonly string[];
  /** Largest JSON-RPC request body accepted; default 4 MiB. */
  maxBodyBytes?: number;
  /** Concurrent sessions; default 100. */
  maxSessions?: number;
  /** A session with no request and no open stream for this long is closed; default 2 hours. */
  sessionIdleMs?: number;
  /** Tools served in addition to the registry's (an embedding app's own, or a bench's echo). */
  extraTools?: readonly McpToolDefinition[];
  /** Where status lines go; default stderr. Never stdout. */
  log?: (line: string) => void;
  /** Serves `/metrics` (Prometheus text) from this, under the same token rule as /mcp. */
  metrics?: () => Promise<{ contentType: string; text: string }>;
  /** Everything else (`/`, `/api/…`): the dashboard. */
  routes?: HttpRoutes;
}

export interface McpHttpServer {
  /** The MCP endpoint, e.g. `http://127.0.0.1:3000/mcp`. */
  url: string;
  port: number;
  sessionCount(): number;
  /** Stops accepting, lets in-flight calls finish (up to `drainMs`), then closes every session. */
  close(drainMs?: number): Promise<void>;
}

interface Session {
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  lastSeen: number;
  /** Open GET (SSE) streams: a client listening for notifications is not idle. */
  streams: number;
}

const DEFAULT_MAX_BODY = 4 * 1024 * 1024;

function sendJson(res: ServerResponse, status: number, body: unknown, headers = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function rpcError(res: ServerResponse, status: number, code: number, message: string): void {
  sendJson(res, status, { jsonrpc: '2.0', error: { code, message }, id: null });
}

class BodyTooLarge extends Error {}

/** Why the server could not listen, in words that say what to change. */
function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  const where = `${host}:${port}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return new DomainError(
        'CONFLICT',
        `${where} is already in use (another serve?); pick another port with --port or OPENCODE_MCP_PORT`,
        { host, port },
      );
    case 'EACCES':
      return new ValidationError(
        '--port',
        `not allowed to listen on ${where}; use a port above 1023`,
      );
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return new ValidationError('--host', `${host} is not an address of this machine`);
    default:
      return err;
  }
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) return reject(new BodyTooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge());
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * Streamable HTTP transport on plain `node:http` (no express: the routes are three, and the
 * security checks below are ones we need to control exactly). One SDK server per session.
 * @example
 * const http = await startMcpHttpServer(registry, { host: '127.0.0.1', port: 3000 });
 * process.once('SIGTERM', () => http.close());
 */
export async function startMcpHttpServer(
  registry: McpToolRegistry,
  opts: McpHttpOptions,
): Promise<McpHttpServer> {
  assertSafeBind(opts.host, opts.token);
  const [{ StreamableHTTPServerTransport }, { isInitializeRequest }] = await Promise.all([
    import('@modelcontextprotocol/sdk/server/streamableHttp.js'),
    import('@modelcontextprotocol/sdk/types.js'),
  ]);
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const hosts = allowedHostnames(opts.host, opts.allowedHosts);
  const origins = opts.allowedOrigins ?? [];
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const maxSessions = opts.maxSessions ?? 100;
  const idleMs = opts.sessionIdleMs ?? 2 * 3_600_000;
  const sessions = new Map<string, Session>();
  const posts = new InFlight();
  let draining = false;

  const dropSession = (id: string) => {
    const s = sessions.get(id);
    if (!s) return;
    sessions.delete(id);
    void s.server.close().catch(() => {});
  };

  async function newSession(req: IncomingMessage, res: ServerResponse, body: unknown) {
    if (sessions.size >= maxSessions) {
      return rpcError(res, 503, -32000, `too many sessions (${maxSessions}); close one first`);
    }
    const server = await registry.createServer(opts.extraTools);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, server, lastSeen: Date.now(), streams: 0 });
      },
      onsessionclosed: (id) => dropSession(id),
    });
    transport.onclose = () => {
      if (transport.sessionId) dropSession(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  async function handleMcp(req: IncomingMessage, res: ServerResponse) {
    const sessionId = req.headers['mcp-session-id'];
    const session = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
    if (req.method === 'POST') {
      if (draining) return rpcError(res, 503, -32000, 'server is shutting down');
      const done = posts.begin();
      res.once('close', done);
      let body: unknown;
      try {
        const raw = await readBody(req, maxBody);
        body = JSON.parse(raw.toString('utf8'));
      } catch (err) {
        if (err instanceof BodyTooLarge) {
          return rpcError(res, 413, -32600, `request body exceeds ${maxBody} bytes`);
        }
        return rpcError(res, 400, -32700, 'parse error: the body is not valid JSON');
      }
      if (session) {
        session.lastSeen = Date.now();
        return session.transport.handleRequest(req, res, body);
      }
      if (sessionId !== undefined) {
        return rpcError(res, 404, -32001, 'session not found; initialize a new session');
      }
      if (isInitializeRequest(body)) return newSession(req, res, body);
      return rpcError(res, 400, -32000, 'no mcp-session-id header; send initialize first');
    }
    if (req.method === 'GET' || req.method === 'DELETE') {
      if (!session) {
        return sessionId === undefined
          ? rpcError(res, 400, -32000, 'mcp-session-id header required')
          : rpcError(res, 404, -32001, 'session not found; initialize a new session');
      }
      session.lastSeen = Date.now();
      if (req.method === 'GET') {
        session.streams++;
        res.once('close', () => {
          session.streams--;
          session.lastSeen = Date.now();
        });
      }
      return session.transport.handleRequest(req, res);
    }
    res.setHeader('allow', 'GET, POST, DELETE');
    return rpcError(res, 405, -32000, `method ${req.method} not allowed`);
  }

  const unauthorized = (res: ServerResponse, html = false) => {
    const message =
      'missing or wrong bearer token; send Authorization: Bearer <OPENCODE_MCP_TOKEN>' +
      (html ? ', or open /?token=<OPENCODE_MCP_TOKEN> once in this browser' : '');
    if (html) {
      res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8' });
      return res.end(`401 unauthorized: ${message}\n`);
    }
    sendJson(
      res,
      401,
      { error: 'unauthorized', message },
      { 'www-authenticate': 'Bearer realm="opencode-tools"' },
    );
  };

  /** Bearer header (programs) or the session cookie the dashboard login sets (browsers). */
  const authorized = (req: IncomingMessage, browser: boolean) =>
    opts.token === undefined ||
    bearerMatches(req.headers.authorization, opts.token) ||
    (browser && cookieMatches(req.headers.cookie, opts.token));

  async function route(req: IncomingMessage, res: ServerResponse, url: URL) {
    const path = url.pathname;
    if (path === '/mcp') {
      if (!authorized(req, false)) return unauthorized(res);
      return handleMcp(req, res);
    }
    if (path === '/metrics' && opts.metrics) {
      // Read-only: the dashboard's session cookie is also accepted (the System view links here).
      if (!authorized(req, true)) return unauthorized(res);
      if (req.method !== 'GET') return sendJson(res, 405, { error: 'method not allowed' });
      const m = await opts.metrics();
      res.writeHead(200, { 'content-type': m.contentType, 'cache-control': 'no-store' });
      return res.end(m.text);
    }
    if (!opts.routes) {
      return sendJson(res, 404, { error: 'not found', message: 'the MCP endpoint is /mcp' });
    }
    // `/?token=…` logs a browser in: the token becomes an HttpOnly cookie and leaves the URL.
    const given = url.searchParams.get('token');
    if (opts.token !== undefined && given !== null && req.method === 'GET') {
      if (!bearerMatches(`Bearer ${given}`, opts.token)) return unauthorized(res, true);
      url.searchParams.delete('token');
      res.writeHead(303, {
        'set-cookie': sessionCookie(opts.token),
        // Path only, never `//host`: the login must not redirect anywhere else.
        location: (url.pathname.startsWith('//') ? '/' : url.pathname) + url.search,
        'cache-control': 'no-store',
      });
      return res.end();
    }
    if (!authorized(req, true)) return unauthorized(res, !path.startsWith('/api/'));
    if (!(await opts.routes.handle(req, res, url))) {
      sendJson(res, 404, { error: 'not found', message: `no such page: ${path}` });
    }
  }

  const http = createServer((req, res) => {
    const refused = checkHostAndOrigin(
      { host: req.headers.host, origin: req.headers.origin },
      hosts,
      origins,
    );
    if (refused) return sendJson(res, 403, { error: 'forbidden', message: refused });
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return sendJson(res, 400, { error: 'bad request', message: 'malformed request URL' });
    }
    if (url.pathname === '/health') {
      return sendJson(res, draining ? 503 : 200, {
        status: draining ? 'draining' : 'ok',
        sessions: sessions.size,
      });
    }
    route(req, res, url).catch((err: unknown) => {
      log(
        `http: ${url.pathname}: request failed: ${err instanceof Error ? err.stack : String(err)}`,
      );
      if (url.pathname === '/mcp') rpcError(res, 500, -32603, 'internal error');
      else
        sendJson(res, 500, { error: 'internal', message: 'internal error (see the server log)' });
    });
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', (err) => reject(listenError(err, opts.host, opts.port)));
    http.listen(opts.port, opts.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const port = (http.address() as AddressInfo).port;
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const url = `http://${hostForUrl}:${port}/mcp`;

  const reaper = setInterval(
    () => {
      const cutoff = Date.now() - idleMs;
      for (const [id, s] of sessions) if (s.streams === 0 && s.lastSeen < cutoff) dropSession(id);
    },
    Math.min(idleMs, 60_000),
  );
  reaper.unref();

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    sessionCount: () => sessions.size,
    close(drainMs = 30_000) {
      closing ??= (async () => {
        draining = true;
        clearInterval(reaper);
        opts.routes?.close?.();
        const closed = new Promise<void>((resolve) => http.close(() => resolve()));
        if (!(await posts.idle(drainMs))) {
          log(
            `mcp http: ${posts.size} request(s) still running after ${drainMs}ms; closing anyway`,
          );
        }
        for (const id of [...sessions.keys()]) dropSession(id);
        http.closeAllConnections();
        await closed;
      })();
      return closing;
    },
  };
}
