import { existsSync } from 'node:fs';
import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OpenCodeToolsOptionsInput } from '../../src/config/options';
import { DashboardFeed } from '../../src/modules/dashboard/dashboard-feed.service';
import { DashboardModule } from '../../src/modules/dashboard/dashboard.module';
import { DashboardRoutes } from '../../src/modules/dashboard/dashboard.routes';
import { McpModule } from '../../src/modules/mcp/mcp.module';
import { McpToolRegistry } from '../../src/modules/mcp/mcp-tool.registry';
import {
  startMcpHttpServer,
  type McpHttpServer,
} from '../../src/modules/mcp/transports/http.transport';
import { MetricsService } from '../../src/modules/metrics/metrics.service';
import { OpenCodeToolsModule } from '../../src/opencode-tools.module';
import { tempHome } from '../helpers/temp-home';

@Module({})
class DashboardTestRoot {}

export interface DashboardServer {
  app: INestApplicationContext;
  http: McpHttpServer;
  /** `http://127.0.0.1:<port>` */
  base: string;
  close(): Promise<void>;
}

/**
 * What `serve` runs, in-process: the root module, MCP tools, metrics and the dashboard behind one
 * HTTP server on a free loopback port (in-memory store and sandboxes unless told otherwise).
 */
export async function dashboardServer(
  opts: { token?: string; options?: OpenCodeToolsOptionsInput } = {},
): Promise<DashboardServer> {
  const home = tempHome('oct-dash-');
  const app = await NestFactory.createApplicationContext(
    {
      module: DashboardTestRoot,
      imports: [
        OpenCodeToolsModule.forRoot({
          home: home.dir,
          database: { driver: 'memory' },
          sandbox: { runtime: 'memory' },
          ...opts.options,
        }),
        McpModule,
        DashboardModule,
      ],
    },
    { logger: false },
  );
  const metrics = app.get(MetricsService);
  const feed = app.get(DashboardFeed);
  metrics.addGauge(
    'opencode_dashboard_viewers',
    'Open dashboard change streams',
    () => feed.viewerCount,
  );
  await metrics.start();
  feed.start();
  const http = await startMcpHttpServer(app.get(McpToolRegistry), {
    host: '127.0.0.1',
    port: 0,
    token: opts.token,
    log: () => {},
    metrics: () => metrics.render(),
    routes: app.get(DashboardRoutes),
  });
  return {
    app,
    http,
    base: http.url.replace(/\/mcp$/, ''),
    async close() {
      await http.close(1000);
      await app.close();
      home.cleanup();
    },
  };
}

/** A real MCP client over Streamable HTTP. */
export async function mcpClient(url: string, token?: string): Promise<Client> {
  const client = new Client({ name: 'dashboard-test', version: '0.0.0' });
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }),
  );
  return client;
}

/** Debian's chromium (no browser download); CHROMIUM_PATH overrides. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * `describe` for suites that drive a real browser. Without chromium the suite is skipped with a
 * loud warning locally, and fails under CI=true (CI must run it).
 */
export function describeBrowser(name: string, fn: () => void): void {
  if (existsSync(CHROMIUM)) return describe(name, fn);
  const msg = `${CHROMIUM} is missing; install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`;
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs chromium under CI=true', () => {
        throw new Error(msg);
      });
    });
    return;
  }
  console.warn(`\n!!! SKIPPING "${name}": ${msg}\n`);
  describe.skip(name, fn);
}
