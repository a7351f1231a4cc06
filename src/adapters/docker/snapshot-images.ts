import type Docker from 'dockerode';
import { SANDBOX_LABELS } from '../../ports/sandbox-runtime.port';
import { docker, isNotFound, mapDockerError } from './docker-errors';
import { managedFilter } from './docker-names';

/** A snapshot image that lost its tag and that no container uses any more. */
export interface UnusedSnapshotImage {
  id: string;
  taskId: string;
  labels: Record<string, string>;
  createdAt: string;
}

/**
 * Untagged images that carry our labels and that no container (of any owner) uses.
 *
 * Only checkpoint snapshots (`docker commit` of a sandbox) carry our labels. Deleting a
 * checkpoint removes its tag; the image itself stays while a container still runs from it (the
 * task restored from it, or a fork), and becomes garbage when that container goes.
 */
export async function unusedSnapshotImages(client: Docker): Promise<UnusedSnapshotImage[]> {
  const [images, containers] = await Promise.all([
    docker(() =>
      client.listImages({ all: false, filters: { ...managedFilter(), dangling: ['true'] } }),
    ),
    docker(() => client.listContainers({ all: true })),
  ]);
  const used = new Set(containers.map((c) => c.ImageID));
  return images
    .filter((i) => !used.has(i.Id))
    .map((i) => ({
      id: i.Id,
      taskId: i.Labels?.[SANDBOX_LABELS.taskId] ?? '',
      labels: i.Labels ?? {},
      createdAt: new Date(i.Created * 1000).toISOString(),
    }));
}

/**
 * Removes the unused snapshot images of `taskId` and the image `also` (the image of a container
 * just removed) when it is one of them. Never forced: an image a container still uses stays
 * (the engine answers 409), and so does anything the engine lists as tagged.
 * @returns the ids removed.
 */
export async function releaseSnapshotImages(
  client: Docker,
  taskId: string,
  also?: string,
): Promise<string[]> {
  const removed: string[] = [];
  for (const img of await unusedSnapshotImages(client)) {
    if (img.taskId !== taskId && img.id !== also) continue;
    try {
      await client.getImage(img.id).remove();
      removed.push(img.id);
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (!isNotFound(err) && status !== 409) throw mapDockerError(err);
    }
  }
  return removed;
}
