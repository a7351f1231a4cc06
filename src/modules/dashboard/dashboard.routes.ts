import { Injectable } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { DomainError, type ErrorCode } from '../../domain/errors';
import type { HttpRoutes } from '../mcp/transports/http.transport';
import { DashboardApi } from './dashboard-api.service';
import { DashboardFeed } from './dashboard-feed.service';

/** The page and its files, shipped in the package next to this module (no network, no build). */
const ASSETS: Record<string, [file: string, type: string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/lib.js': ['lib.js', 'text/javascript; charset=utf-8'],
  '/list-view.js': ['list-view.js', 'text/javascript; charset=utf-8'],
  '/task-view.js': ['task-view.js', 'text/javascript; charset=utf-8'],
  '/task-parts.js': ['task-parts.js', 'text/javascript; charset=utf-8'],
  '/task-actions.js': ['task-actions.js', 'text/javascript; charset=utf-8'],
  '/task-log.js': ['task-log.js', 'text/javascript; charset=utf-8'],
  '/task-history.js': ['task-history.js', 'text/javascript; charset=utf-8'],
  '/system-view.js': ['system-view.js', 'text/javascript; charset=utf-8'],
  '/app.css': ['app.css', 'text/css; charset=utf-8'],
};

/** Nothing but our own files may run or load; data is never markup (defence in depth). */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const STATUS_FOR: Partial<Record<ErrorCode, number>> = {
  VALIDATION: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  ILLEGAL_TRANSITION: 409,
  LOCK_HELD: 409,
  NOT_ATTACHED: 409,
  LEASE_EXPIRED: 409,
  HOOK_VETO: 409,
  SANDBOX_UNAVAILABLE: 503,
  STORAGE_UNAVAILABLE: 503,
};

/** Largest JSON body of an action. */
const MAX_BODY = 64 * 1024;

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    ...SECURITY_HEADERS,
  });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  // A JSON content type cannot be sent cross-site without a CORS preflight we never grant.
  if (!type.startsWith('application/json')) {
    throw new DomainError('VALIDATION', 'content-type: actions take application/json', {
      field: 'content-type',
    });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) {
      throw new DomainError('VALIDATION', `body: larger than ${MAX_BODY} bytes`, { field: 'body' });
    }
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new DomainError('VALIDATION', 'body: not valid JSON', { field: 'body' });
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new DomainError('VALIDATION', 'body: must be a JSON object', { field: 'body' });
  }
  return body as Record<string, unknown>;
}

/**
 * The dashboard on the `serve` port: `/` (page), `/app.js`, `/app.css`, `/api/…` (JSON over the
 * same services) and `/api/events` (the change feed). Access rules are the transport's.
 */
@Injectable()
export class DashboardRoutes implements HttpRoutes {
  private readonly files = new Map<string, Buffer>();

  constructor(
    private readonly api: DashboardApi,
    private readonly feed: DashboardFeed,
  ) {}

  private asset(file: string): Buffer {
    let body = this.files.get(file);
    if (!body) {
      body = readFileSync(join(__dirname, 'assets', file));
      this.files.set(file, body);
    }
    return body;
  }

  close(): void {
    this.feed.closeAll();
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const path = url.pathname;
    const asset = ASSETS[path];
    if (asset) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        this.methodNotAllowed(res);
        return true;
      }
      res.writeHead(200, {
        'content-type': asset[1],
        'cache-control': 'no-cache',
        ...SECURITY_HEADERS,
      });
      res.end(req.method === 'HEAD' ? undefined : this.asset(asset[0]));
      return true;
    }
    if (path === '/favicon.ico') {
      res.writeHead(204, { 'cache-control': 'max-age=86400' });
      res.end();
      return true;
    }
    if (!path.startsWith('/api/')) return false;
    try {
      await this.apiRoute(req, res, url);
    } catch (err) {
      if (res.headersSent) return true;
      if (err instanceof DomainError) {
        json(res, STATUS_FOR[err.code] ?? 500, { error: err.toJSON() });
      } else {
        throw err;
      }
    }
    return true;
  }

  private methodNotAllowed(res: ServerResponse): void {
    json(res, 405, { error: { code: 'VALIDATION', message: 'method not allowed', details: {} } });
  }

  private async apiRoute(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const parts = url.pathname.split('/').slice(2).map(decodeURIComponent);
    const q = url.searchParams;
    const get = req.method === 'GET';
    if (parts[0] === 'events' && parts.length === 1 && get) {
      // A task's stream starts one watcher for it: only for a task that exists (else 404).
      const task = q.get('task') ? (await this.api.taskSummary(q.get('task')!)).id : undefined;
      if (!this.feed.attach(res, task)) {
        json(res, 503, {
          error: { code: 'STORAGE_UNAVAILABLE', message: 'too many dashboards open', details: {} },
        });
      }
      return;
    }
    if (parts[0] === 'system' && parts.length === 1 && get)
      return json(res, 200, await this.api.system());
    if (parts[0] !== 'tasks')
      return json(res, 404, {
        error: { code: 'NOT_FOUND', message: `no API route ${url.pathname}`, details: {} },
      });
    if (parts.length === 1 && get) return json(res, 200, await this.api.listTasks(q));
    const id = parts[1];
    if (parts.length === 2 && get) return json(res, 200, await this.api.task(id));
    if (parts.length === 3 && get) {
      if (parts[2] === 'logs') return json(res, 200, await this.api.logTail(id, q));
      if (parts[2] === 'executions') return json(res, 200, await this.api.executionList(id, q));
      if (parts[2] === 'decisions') return json(res, 200, await this.api.decisionList(id, q));
    }
    if (parts.length === 3 && req.method === 'POST') {
      return json(res, 200, await this.api.act(id, parts[2], await readJson(req)));
    }
    return json(res, 404, {
      error: {
        code: 'NOT_FOUND',
        message: `no API route ${req.method} ${url.pathname}`,
        details: {},
      },
    });
  }
}
