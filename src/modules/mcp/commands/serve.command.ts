import { Inject } from '@nestjs/common';
import { Command, Help, Option } from 'nest-commander';
import { ValidationError } from '../../../domain/errors';
import { OPENCODE_OPTIONS, type OpenCodeToolsOptions } from '../../../config/options';
import { BaseCommand, parse, type BaseOptions } from '../../cli/base.command';
import { McpToolRegistry } from '../mcp-tool.registry';
import { ServerBackgroundWork } from './background-work';

interface ServeOptions extends BaseOptions {
  host?: string;
  port?: number;
  allowedHost?: string[];
  allowedOrigin?: string[];
  drainTimeout?: number;
}

/** `opencode-tools serve` (= `npm start`): MCP over Streamable HTTP. */
@Command({
  name: 'serve',
  description:
    'serve MCP over Streamable HTTP (default http://127.0.0.1:3000/mcp, health at /health)',
})
export class McpServeCommand extends BaseCommand<ServeOptions> {
  constructor(
    private readonly registry: McpToolRegistry,
    private readonly background: ServerBackgroundWork,
    @Inject(OPENCODE_OPTIONS) private readonly options: OpenCodeToolsOptions,
  ) {
    super();
  }

  protected async execute(_params: string[], o: ServeOptions): Promise<void> {
    const { startMcpHttpServer } = await import('../transports/http.transport');
    const cfg = this.options.mcp;
    const http = await startMcpHttpServer(this.registry, {
      host: o.host ?? cfg.host,
      port: o.port ?? cfg.port,
      token: cfg.token,
      allowedHosts: o.allowedHost,
      allowedOrigins: o.allowedOrigin,
    });
    this.background.start();
    const auth = cfg.token ? 'bearer token required' : 'no token, loopback clients only';
    process.stderr.write(`opencode-tools MCP server listening on ${http.url} (${auth})\n`);
    if (o.json) process.stdout.write(`${JSON.stringify({ url: http.url, port: http.port })}\n`);
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

  @Help('after')
  examples() {
    return `
Examples:
  opencode-tools serve                                   # http://127.0.0.1:3000/mcp
  OPENCODE_MCP_TOKEN=$(openssl rand -hex 32) opencode-tools serve --host 0.0.0.0
Binding beyond loopback requires OPENCODE_MCP_TOKEN; clients then send Authorization: Bearer <token>.`;
  }
}
