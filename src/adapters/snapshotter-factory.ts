import type { OpenCodeToolsOptions } from '../config/options';
import type { SandboxSnapshotter } from '../ports/sandbox-snapshotter.port';
import { sessionIoRoot } from './sandbox-factory';

/** Opens the sandbox snapshotter for checkpoints; `undefined` = checkpoints without a filesystem. */
export type SandboxSnapshotterFactory = (
  options: OpenCodeToolsOptions,
) => Promise<SandboxSnapshotter | undefined>;

/**
 * The Docker snapshotter when sandboxes run on Docker (none for the in-memory runtime). dockerode is
 * loaded, and the engine contacted, only when a checkpoint is first taken, restored or forked.
 */
export const openConfiguredSnapshotter: SandboxSnapshotterFactory = async (options) => {
  if (options.sandbox.runtime !== 'docker') return undefined;
  let real: Promise<SandboxSnapshotter> | undefined;
  const load = () =>
    (real ??= (async () => {
      const { default: Docker } = await import('dockerode');
      const { DockerSandboxSnapshotter } = await import('./docker/docker-snapshotter');
      const { SessionIoDirs } = await import('./docker/session-io');
      const root = sessionIoRoot(options);
      const io = root ? new SessionIoDirs(root) : undefined;
      return new DockerSandboxSnapshotter(new Docker(), io);
    })());
  return {
    // Tasks without a sandbox spec have no container: no need to load dockerode for them.
    snapshot: async (task, ...rest) =>
      task.sandbox ? (await load()).snapshot(task, ...rest) : undefined,
    restore: async (...a) => (await load()).restore(...a),
    fork: async (...a) => (await load()).fork(...a),
    remove: async (...a) => (await load()).remove(...a),
  };
};
