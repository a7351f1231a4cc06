import type Docker from 'dockerode';
import type { HostMount } from '../../ports/sandbox-runtime.port';
import { docker, isNotFound, mapDockerError } from './docker-errors';
import { labelsFor, managedFilter, names } from './docker-names';

export const WORKSPACE = '/workspace';

/**
 * The task's `/workspace` volume (it survives container re-creation and goes with the task) and
 * host mounts, which the Docker module has already checked against the operator's allow-list.
 */
export class VolumeManager {
  constructor(private readonly client: Docker) {}

  async ensureWorkspace(taskId: string, labels: Record<string, string>): Promise<string> {
    return (await this.ensureWorkspaceCreated(taskId, labels)).name;
  }

  /** Like `ensureWorkspace`, and says whether this call created it (else it survived). */
  async ensureWorkspaceCreated(
    taskId: string,
    labels: Record<string, string>,
  ): Promise<{ name: string; created: boolean }> {
    const name = names.volume(taskId);
    try {
      await this.client.getVolume(name).inspect();
      return { name, created: false };
    } catch (err) {
      if (!isNotFound(err)) throw mapDockerError(err);
      await docker(() =>
        this.client.createVolume({ Name: name, Labels: labelsFor(taskId, labels) }),
      );
      return { name, created: true };
    }
  }

  /** `HostConfig.Mounts` for the workspace and the host mounts. */
  mounts(volume: string, hostMounts: HostMount[]): Docker.MountSettings[] {
    return [
      { Type: 'volume', Source: volume, Target: WORKSPACE, ReadOnly: false },
      ...hostMounts.map((m): Docker.MountSettings => ({
        Type: 'bind',
        Source: m.source,
        Target: m.target,
        ReadOnly: m.readOnly,
      })),
    ];
  }

  async remove(taskId: string): Promise<boolean> {
    try {
      await this.client.getVolume(names.volume(taskId)).remove();
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw mapDockerError(err);
    }
  }

  async listManaged(): Promise<
    { name: string; taskId: string; labels: Record<string, string>; createdAt?: string }[]
  > {
    const res = await docker(() => this.client.listVolumes({ filters: managedFilter() }));
    return (res.Volumes ?? []).map((v) => ({
      name: v.Name,
      taskId: v.Labels?.['opencode-tools.task-id'] ?? '',
      labels: v.Labels ?? {},
      createdAt: (v as { CreatedAt?: string }).CreatedAt,
    }));
  }
}
