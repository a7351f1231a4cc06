import type { SandboxShell } from '../../config/sandbox-options';
import Docker from 'dockerode';
import type { SandboxRuntime } from '../../ports/sandbox-runtime.port';
import { DockerSandboxRuntime } from './docker-sandbox.runtime';

export { DockerSandboxRuntime };
export { names as dockerNames } from './docker-names';

/**
 * Connects to the engine named by DOCKER_HOST (or the default socket). Nothing is contacted
 * until the first call, so an unreachable engine surfaces as SANDBOX_UNAVAILABLE on first use.
 */
export async function createDockerSandboxRuntime(
  client: Docker = new Docker(),
  opts: {
    sessionsPerTask?: number;
    shell?: SandboxShell;
    logMaxBytes?: number;
    /** Host directory of session FIFOs (see `SessionIoDirs`); none: sessions use attach streams. */
    ioRoot?: string;
  } = {},
): Promise<SandboxRuntime> {
  return new DockerSandboxRuntime(client, opts);
}
