import { Inject } from '@nestjs/common';
import { Command, Help, Option } from 'nest-commander';
import { ValidationError } from '../../../domain/errors';
import { OPENCODE_OPTIONS, type OpenCodeToolsOptions } from '../../../config/options';
import { BaseCommand, parse, type BaseOptions } from '../../cli/base.command';
import { DashboardFeed } from '../../dashboard/dashboard-feed.service';
import { DashboardRoutes } from '../../dashboard/dashboard.routes';
import { MetricsService } from '../../metrics/metrics.service';
import { McpToolRegistry } from '../mcp-tool.registry';
import { ServerBackgroundWork } from './background-work';

interface ServeOptions extends BaseOptions {
  host?: string;
  port?: number;
  allowedHost?: string[];
  allowedOrigin?: string[];
  drainTimeout?: number;
  /** false with --no-dashboard. */
  dashboard?: boolean;
}

/** `opencode-tools serve` (= `npm start`): MCP over Streamable HTTP, metrics and the dashboard. */
@Command({
  name: 'serve',
  description:
    'serve MCP over Streamable HTTP (default http://127.0.0.1:3000/mcp), the dashboard at /, metrics at /metrics, health at /health',
})
export class McpServeCommand extends BaseCommand<ServeOptions> {
  constructor(
    private readonly registry: McpToolRegistry,
    private readonly background: ServerBackgroundWork,
    @Inject(OPENCODE_OPTIONS) private readonly options: OpenCodeToolsOptions,
    private readonly metrics: MetricsService,
    private readonly dashboard: DashboardRoutes,
    private readonly feed: DashboardFeed,
  ) {
    super();
  }

  protected async execute(_params: string[], o: ServeOptions): Promise<void> {
    const { startMcpHttpServer } = await import('../transports/http.transport');
    const cfg = this.options.mcp;
    const withDashboard = o.dashboard !== false;
    this.metrics.addGauge(
      'opencode_dashboard_viewers',
      'Open dashboard change streams',
      () => this.feed.viewerCount,
    );
    await this.metrics.start();
    if (withDashboard) this.feed.start();
    const http = await startMcpHttpServer(this.registry, {
      host: o.host ?? cfg.host,
      port: o.port ?? cfg.port,
      token: cfg.token,
      allowedHosts: o.allowedHost,
      allowedOrigins: o.allowedOrigin,
      metrics: () => this.metrics.render(),
      routes: withDashboard ? this.dashboard : undefined,
    });
    this.background.start();
    const auth = cfg.token ? 'bearer token required' : 'no token, loopback clients only';
    process.stderr.write(`opencode-tools MCP server listening on ${http.url} (${auth})\n`);
    const base = http.url.replace(/\/mcp$/, '');
    if (withDashboard) {
      const login = cfg.token ? ' (open /?token=<OPENCODE_MCP_TOKEN> once to log in)' : '';
      process.stderr.write(`dashboard at ${base}/${login}; metrics at ${base}/metrics\n`);
    }
    if (o.json) {
      const dashboard = withDashboard ? `${base}/` : undefined;
      const out = { url: http.url, port: http.port, dashboard, metrics: `${base}/metrics` };
      process.stdout.write(`${JSON.stringify(out)}\n`);
    }
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        process.stderr.write(`${signal}: finishing in-flight calls, then exiting\n`);
        this.background.stop();
        void http.close(o.drainTimeout).finally(resolve);
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    process.stderr.write('opencode-tools MCP server stopped\n');
  }

  @Option({
    flags: '--host <host>',
    description: 'bind address (default: OPENCODE_MCP_HOST or 127.0.0.1)',
  })
  parseHost(v: string) {
    return v;
  }
  @Option({
    flags: '--port <port>',
    description: 'port, 0 for any free one (default: OPENCODE_MCP_PORT or 3000)',
  })
  parsePort(v: string) {
    const n = parse.int('--port', v, 0);
    if (n > 65535) throw new ValidationError('--port', `expected a port number 0-65535, got ${n}`);
    return n;
  }
  @Option({
    flags: '--allowed-host <name>',
    description: 'also accept this name in the Host header (repeatable)',
  })
  parseAllowedHost(v: string, prev?: string[]) {
    return parse.list(v, prev);
  }
  @Option({
    flags: '--allowed-origin <origin>',
    description: 'also accept this browser Origin, e.g. https://app.example (repeatable)',
  })
  parseAllowedOrigin(v: string, prev?: string[]) {
    return parse.list(v, prev);
  }
  @Option({
    flags: '--drain-timeout <duration>',
    description: 'on SIGTERM, how long to wait for in-flight calls (default 30s)',
  })
  parseDrainTimeout(v: string) {
    return parse.duration('--drain-timeout', v);
  }

  @Option({
    flags: '--no-dashboard',
    description: 'serve MCP, /metrics and /health only (no dashboard at / or /api)',
  })
  parseNoDashboard() {
    return false;
  }

  @Help('after')
  examples() {
    return `
Examples:
  opencode-tools serve                                   # http://127.0.0.1:3000/mcp, dashboard at /
  OPENCODE_MCP_TOKEN=$(openssl rand -hex 32) opencode-tools serve --host 0.0.0.0
Binding beyond loopback requires OPENCODE_MCP_TOKEN; clients then send Authorization: Bearer <token>.`;
  }
}
