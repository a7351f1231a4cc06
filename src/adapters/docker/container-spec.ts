import type Docker from 'dockerode';
import type { SandboxConfig } from '../../ports/sandbox-runtime.port';
import { labelsFor, names } from './docker-names';

/** PID 2 of every sandbox (PID 1 is Docker's init): sleeps until stopped; exec does the work. */
export const KEEP_ALIVE = ['sleep', '2147483647'];

/**
 * The hardened `docker create` body (ARCHITECTURE §5): no capabilities, no privilege escalation,
 * pids/memory/CPU limits with swap equal to memory, an init process that forwards signals and
 * reaps zombies, network as the policy says, capped logs, and only the workspace volume plus
 * allow-listed host mounts.
 */
export function containerCreateOptions(
  config: SandboxConfig,
  networkMode: string,
  mounts: Docker.MountSettings[],
): Docker.ContainerCreateOptions {
  const memory = config.memoryMb * 1024 * 1024;
  return {
    name: names.container(config.taskId),
    Image: config.image,
    Entrypoint: KEEP_ALIVE,
    Env: Object.entries(config.env).map(([k, v]) => `${k}=${v}`),
    WorkingDir: config.workdir,
    Labels: labelsFor(config.taskId, config.labels),
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    NetworkDisabled: networkMode === 'none',
    HostConfig: {
      Init: true,
      Privileged: false,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges:true'],
      PidsLimit: config.pids,
      Memory: memory,
      MemorySwap: memory,
      NanoCpus: Math.round(config.cpus * 1e9),
      NetworkMode: networkMode,
      Mounts: mounts,
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      LogConfig: {
        Type: 'json-file',
        Config: { 'max-size': config.logMaxSize, 'max-file': String(config.logMaxFiles) },
      },
      AutoRemove: false,
    },
  };
}
