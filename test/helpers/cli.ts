import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const BIN = join(__dirname, '..', '..', 'dist', 'main.js');

export function assertBuilt(): void {
  if (!existsSync(BIN))
    throw new Error(`${BIN} is missing: run "npm run build" (npm test does it first)`);
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the built CLI synchronously with a clean OPENCODE_* environment plus `env`. */
export function cli(args: string[], env: Record<string, string>, input?: string): CliResult {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    input: input ?? '',
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

/** The built CLI in the background: its output so far, and its exit code once it ends. */
export function cliSpawn(args: string[], env: Record<string, string>) {
  const proc = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c) => (stdout += c));
  proc.stderr.on('data', (c) => (stderr += c));
  const closed = new Promise<number | null>((r) => proc.on('close', r));
  return { proc, closed, stdout: () => stdout, stderr: () => stderr };
}

/** Same as {@link cli}, asynchronously, so several processes can race. */
export async function cliAsync(args: string[], env: Record<string, string>): Promise<CliResult> {
  const t0 = Date.now();
  const c = cliSpawn(args, env);
  const code = await c.closed;
  return { code, stdout: c.stdout(), stderr: c.stderr(), ms: Date.now() - t0 };
}
