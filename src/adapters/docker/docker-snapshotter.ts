import type Docker from 'dockerode';
import { createReadStream, createWriteStream, fsyncSync, openSync, closeSync } from 'node:fs';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DomainError } from '../../domain/errors';
import type { NetworkPolicy, Task } from '../../domain/task';
import { SANDBOX_LABELS } from '../../ports/sandbox-runtime.port';
import type { SandboxSnapshotter, SnapshotProgress } from '../../ports/sandbox-snapshotter.port';
import { docker, isNotFound, mapDockerError } from './docker-errors';
import { names } from './docker-names';
import { NetworkManager } from './network-manager';
import { IO_MOUNT_TARGET, type SessionIoDirs } from './session-io';
import { releaseSnapshotImages } from './snapshot-images';
import { VolumeManager, WORKSPACE } from './volume-manager';

/** Repository of snapshot images; the tag is `<taskId>-<checkpointId>`. */
export const SNAPSHOT_REPO = 'opencode-tools-snapshot';
const ARCHIVE = 'workspace.tar';

/** What a checkpoint keeps about a sandbox (stored as the checkpoint's `snapshot`). */
interface DockerSnapshot {
  kind: 'docker';
  taskId: string;
  /** `docker commit` of the container: its own filesystem changes (volumes excluded). */
  image: string;
  imageId: string;
  /** The workspace volume as a tar (relative to the checkpoint's artifacts directory). */
  archive: string;
  workspace: string;
  network: NetworkPolicy;
  /** The container's create options, to re-create it the same way. */
  config: Docker.ContainerCreateOptions;
}

/**
 * Captures and restores a task's sandbox with the engine's own tools: `docker commit` for the
 * container's changes, the archive endpoint for the `/workspace` volume (byte for byte, owners
 * and modes kept). Restore and fork re-create the container from the snapshot image with the same
 * hardened options and a fresh volume filled from the archive.
 */
export class DockerSandboxSnapshotter implements SandboxSnapshotter {
  private readonly networks: NetworkManager;
  private readonly volumes: VolumeManager;

  constructor(
    private readonly client: Docker,
    /** Session FIFO directories, when sessions use them (see `SessionIoDirs`). */
    private readonly io?: SessionIoDirs,
  ) {
    this.networks = new NetworkManager(client);
    this.volumes = new VolumeManager(client);
  }

  /** The target's own session-FIFO mount; none if FIFOs are off or its directory cannot be made. */
  private ioMount(target: string): Docker.MountSettings[] {
    try {
      return this.io ? [this.io.mount(target)] : [];
    } catch {
      return []; // its sessions use the attach stream
    }
  }

  async snapshot(
    task: Task,
    checkpointId: string,
    dir: string | undefined,
    progress: SnapshotProgress,
  ): Promise<Record<string, unknown> | undefined> {
    if (!task.sandbox) return undefined; // tasks without a sandbox spec never have a container
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.client.getContainer(names.container(task.id)).inspect();
    } catch (err) {
      if (isNotFound(err)) return undefined; // container gone: a checkpoint of the task memory only
      throw mapDockerError(err);
    }
    if (!dir) {
      throw new DomainError('INTERNAL', 'the checkpoint store gave no directory for the archive');
    }
    const container = this.client.getContainer(info.Id);
    const tag = `${task.id}-${checkpointId}`.toLowerCase();
    progress(`committing container ${info.Name.replace(/^\//, '')} as ${SNAPSHOT_REPO}:${tag}`);
    const committed = (await docker(() =>
      container.commit({ repo: SNAPSHOT_REPO, tag, pause: true }),
    )) as { Id: string };
    const mount = info.Mounts.find((m) => m.Name === names.volume(task.id));
    const workspace = mount?.Destination ?? WORKSPACE;
    progress(`archiving ${workspace}`);
    const tar = await docker(() => container.getArchive({ path: workspace }));
    const file = join(dir, ARCHIVE);
    await pipeline(tar, createWriteStream(file, { mode: 0o600 }));
    const fd = openSync(file, 'r');
    fsyncSync(fd);
    closeSync(fd);
    const mode = info.HostConfig.NetworkMode ?? 'none';
    let network: NetworkPolicy = 'none';
    if (mode !== 'none') {
      const net = await docker(() => this.client.getNetwork(mode).inspect());
      network = net.Internal ? 'internal' : 'bridge';
    }
    const snap: DockerSnapshot = {
      kind: 'docker',
      taskId: task.id,
      image: `${SNAPSHOT_REPO}:${tag}`,
      imageId: committed.Id,
      archive: ARCHIVE,
      workspace,
      network,
      config: {
        Entrypoint: info.Config.Entrypoint as string[] | undefined,
        Cmd: info.Config.Cmd ?? undefined,
        Env: info.Config.Env,
        WorkingDir: info.Config.WorkingDir,
        User: info.Config.User,
        Labels: info.Config.Labels,
        NetworkDisabled: mode === 'none',
        HostConfig: info.HostConfig as Docker.HostConfig,
      },
    };
    return snap as unknown as Record<string, unknown>;
  }

  async restore(
    task: Task,
    snapshot: Record<string, unknown>,
    dir: string | undefined,
    progress: SnapshotProgress,
  ): Promise<void> {
    await this.recreate(task.id, snapshot as unknown as DockerSnapshot, dir, progress);
  }

  async fork(
    child: Task,
    snapshot: Record<string, unknown>,
    dir: string | undefined,
    progress: SnapshotProgress,
  ): Promise<void> {
    await this.recreate(child.id, snapshot as unknown as DockerSnapshot, dir, progress);
  }

  async remove(snapshot: Record<string, unknown>): Promise<void> {
    const snap = snapshot as unknown as DockerSnapshot;
    try {
      await this.client.getImage(snap.image).remove({ force: true });
    } catch (err) {
      if (!isNotFound(err)) throw mapDockerError(err);
    }
  }

  /** Replaces `target`'s container and workspace with the snapshot's. */
  private async recreate(
    target: string,
    snap: DockerSnapshot,
    dir: string | undefined,
    progress: SnapshotProgress,
  ): Promise<void> {
    if (!dir) throw new DomainError('INTERNAL', 'the checkpoint has no artifacts directory');
    const old = this.client.getContainer(names.container(target));
    let wasRunning = false;
    try {
      const info = await old.inspect();
      wasRunning = info.State.Running;
      progress(`removing the current container of ${target}`);
      await old.remove({ force: true });
      // Its image may be an earlier snapshot whose checkpoint is gone (what is left of it, the
      // reconciler reaps).
      await releaseSnapshotImages(this.client, target, info.Image).catch(() => undefined);
    } catch (err) {
      if (!isNotFound(err)) throw mapDockerError(err);
    }
    await this.volumes.remove(target);
    const labels = Object.fromEntries(
      Object.entries(snap.config.Labels ?? {}).filter(
        ([k]) => k !== SANDBOX_LABELS.managed && k !== SANDBOX_LABELS.taskId,
      ),
    );
    progress('re-creating the workspace volume and the container from the snapshot image');
    const volume = await this.volumes.ensureWorkspace(target, labels);
    const net = await this.networks.ensure(target, snap.network, labels);
    const host = snap.config.HostConfig ?? {};
    const container = await docker(() =>
      this.client.createContainer({
        ...snap.config,
        name: names.container(target),
        Image: snap.image,
        Labels: { ...labels, [SANDBOX_LABELS.managed]: 'true', [SANDBOX_LABELS.taskId]: target },
        HostConfig: {
          ...host,
          NetworkMode: net.mode,
          Binds: undefined,
          Mounts: (host.Mounts ?? []).flatMap((m) =>
            m.Type === 'volume' && m.Source === names.volume(snap.taskId)
              ? [{ ...m, Source: volume }]
              : // The snapshot's own session-FIFO directory is not the target's: its own instead.
                m.Target === IO_MOUNT_TARGET
                ? this.ioMount(target)
                : [m],
          ),
        },
      }),
    );
    progress(`restoring ${snap.workspace} from the archive`);
    await docker(() =>
      container.putArchive(createReadStream(join(dir, snap.archive)), {
        path: posix.dirname(snap.workspace),
      }),
    );
    if (wasRunning) await docker(() => container.start());
  }
}
