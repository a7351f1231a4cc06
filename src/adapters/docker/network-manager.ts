import type Docker from 'dockerode';
import type { NetworkPolicy } from '../../domain/task';
import { docker, isNotFound, mapDockerError } from './docker-errors';
import { labelsFor, managedFilter, names } from './docker-names';

/**
 * Network per policy: `none` (no interface but loopback), `internal` (a task-private network
 * with no route out, for a task's own services), `bridge` (a task-private network with egress).
 * Private networks are named after the task and removed with it.
 */
export class NetworkManager {
  constructor(private readonly client: Docker) {}

  /** The `NetworkMode` for the container, creating the task's network when the policy needs one. */
  async ensure(
    taskId: string,
    policy: NetworkPolicy,
    labels: Record<string, string>,
  ): Promise<{ mode: string; network?: string }> {
    if (policy === 'none') return { mode: 'none' };
    const name = names.network(taskId);
    const existing = await docker(() => this.client.listNetworks({ filters: { name: [name] } }));
    if (!existing.some((n) => n.Name === name)) {
      await docker(() =>
        this.client.createNetwork({
          Name: name,
          Driver: 'bridge',
          Internal: policy === 'internal',
          CheckDuplicate: true,
          Labels: labelsFor(taskId, labels),
        }),
      );
    }
    return { mode: name, network: name };
  }

  /** Removes the task's network if there is one; true when something was removed. */
  async remove(taskId: string): Promise<boolean> {
    try {
      await this.client.getNetwork(names.network(taskId)).remove();
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw mapDockerError(err);
    }
  }

  async listManaged(): Promise<
    { name: string; taskId: string; labels: Record<string, string>; createdAt?: string }[]
  > {
    const nets = await docker(() => this.client.listNetworks({ filters: managedFilter() }));
    return nets.map((n) => ({
      name: n.Name,
      taskId: n.Labels?.['opencode-tools.task-id'] ?? '',
      labels: n.Labels ?? {},
      createdAt: (n as { Created?: string }).Created,
    }));
  }
}
