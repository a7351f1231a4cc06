import type Docker from 'dockerode';
import { DomainError } from '../../domain/errors';
import type { PullProgressListener } from '../../ports/sandbox-runtime.port';
import { docker, isEngineDown, isNotFound, mapDockerError } from './docker-errors';

interface PullEvent {
  status?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
  progressDetail?: { current?: number; total?: number };
}

/** Uses local images; pulls missing ones with progress; a failed pull names the image. */
export class ImageManager {
  private readonly pulls = new Map<string, Promise<'present' | 'pulled'>>();

  constructor(private readonly client: Docker) {}

  async isPresent(image: string): Promise<boolean> {
    try {
      await this.client.getImage(image).inspect();
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw mapDockerError(err);
    }
  }

  ensure(
    image: string,
    pull: 'missing' | 'never',
    onProgress?: PullProgressListener,
  ): Promise<'present' | 'pulled'> {
    // Concurrent creators of the same image share one pull.
    const running = this.pulls.get(image);
    if (running) return running;
    const p = this.ensureOnce(image, pull, onProgress).finally(() => this.pulls.delete(image));
    this.pulls.set(image, p);
    return p;
  }

  private async ensureOnce(
    image: string,
    pull: 'missing' | 'never',
    onProgress?: PullProgressListener,
  ): Promise<'present' | 'pulled'> {
    if (await this.isPresent(image)) return 'present';
    if (pull === 'never') {
      throw new DomainError(
        'NOT_FOUND',
        `image '${image}' is not present on the engine and pulling is disabled (OPENCODE_SANDBOX_PULL=never); load or build it there first (docker pull / docker load / docker build)`,
        { kind: 'image', id: image },
      );
    }
    try {
      await this.pull(image, onProgress);
    } catch (err) {
      if (isEngineDown(err)) throw mapDockerError(err);
      const why = (err as Error).message ?? String(err);
      throw new DomainError(
        'NOT_FOUND',
        `image '${image}' is not present on the engine and pulling it failed: ${why.trim()}. Check the name and tag, the registry and your credentials (docker login), or load the image on the engine host (docker pull / docker load / docker build)`,
        { kind: 'image', id: image },
      );
    }
    return 'pulled';
  }

  private async pull(image: string, onProgress?: PullProgressListener): Promise<void> {
    const stream = await docker(() => this.client.pull(image) as Promise<NodeJS.ReadableStream>);
    const layers = new Map<string, { current: number; total: number }>();
    await new Promise<void>((resolve, reject) => {
      this.client.modem.followProgress(
        stream,
        (err: Error | null) => (err ? reject(err) : resolve()),
        (ev: PullEvent) => {
          if (ev.error) return reject(new Error(ev.errorDetail?.message ?? ev.error));
          if (ev.id && ev.progressDetail?.total) {
            layers.set(ev.id, {
              current: ev.progressDetail.current ?? 0,
              total: ev.progressDetail.total,
            });
          }
          let current = 0;
          let total = 0;
          for (const l of layers.values()) {
            current += l.current;
            total += l.total;
          }
          onProgress?.({
            image,
            status: ev.status ?? '',
            layer: ev.id,
            ...(total ? { current, total } : {}),
          });
        },
      );
    });
    onProgress?.({ image, status: 'done' });
  }
}
