import { join } from 'node:path';
import type { OpenCodeToolsOptions } from '../config/options';
import type { SandboxRuntimeFactory } from '../ports/sandbox-runtime.port';

/** Where sessions' FIFO directories live (`<home>/io`); none with OPENCODE_SESSION_IO=attach. */
export function sessionIoRoot(options: OpenCodeToolsOptions): string | undefined {
  return options.sandbox.sessionIo === 'fifo' ? join(options.home, 'io') : undefined;
}

/**
 * Picks the sandbox runtime from configuration. dockerode is loaded with `import()` on first use,
 * so CLI commands that never touch a sandbox do not pay for it.
 */
export const openConfiguredSandboxRuntime: SandboxRuntimeFactory = async (
  options: OpenCodeToolsOptions,
) => {
  if (options.sandbox.runtime === 'memory') {
    const { MemorySandboxRuntime } = await import('./memory/memory-sandbox.runtime');
    return new MemorySandboxRuntime({ allImages: true });
  }
  return (await import('./docker')).createDockerSandboxRuntime(undefined, {
    sessionsPerTask: options.sandbox.execSessions,
    shell: options.sandbox.shell,
    logMaxBytes: options.sandbox.execLogMaxBytes,
    ioRoot: sessionIoRoot(options),
  });
};
