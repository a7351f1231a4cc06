import type Docker from 'dockerode';
import { posix } from 'node:path';
import { pack, extract, type Pack } from 'tar-stream';
import { DomainError, ValidationError } from '../../domain/errors';
import { docker, isNotFound, mapDockerError } from './docker-errors';
import { ROOT_IDS, type UserIds } from './sandbox-user';

interface PathStat {
  name: string;
  size: number;
  mode: number;
  linkTarget?: string;
}

// Go's os.FileMode bits as Docker reports them in X-Docker-Container-Path-Stat.
const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;

/**
 * Reads one regular file through the archive endpoint. Docker resolves the parent components
 * inside the container's root (a symlink cannot lead to the host); the final component is not
 * followed, and we refuse symlinks, directories and files over `maxBytes` before reading them.
 */
export async function readFileFromContainer(
  container: Docker.Container,
  path: string,
  maxBytes: number,
): Promise<Buffer> {
  let res: NodeJS.ReadableStream & { headers?: Record<string, string>; destroy?: () => void };
  try {
    res = (await container.getArchive({ path })) as typeof res;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) {
      throw new DomainError('NOT_FOUND', `no such file in the sandbox: ${path}`, {
        kind: 'file',
        id: path,
      });
    }
    throw mapDockerError(err);
  }
  const header = res.headers?.['x-docker-container-path-stat'];
  const stat = header ? (JSON.parse(Buffer.from(header, 'base64').toString()) as PathStat) : null;
  if (stat) {
    const problem =
      stat.mode & MODE_SYMLINK
        ? `is a symbolic link to '${stat.linkTarget}'; symlinks are not followed, read the target path instead`
        : stat.mode & MODE_DIR
          ? 'is a directory; give a file path'
          : stat.size > maxBytes
            ? `is ${stat.size} bytes, over the ${maxBytes}-byte read limit (OPENCODE_SANDBOX_FILE_MAX)`
            : null;
    if (problem) {
      res.destroy?.();
      throw new ValidationError('path', `${path} ${problem}`);
    }
  }
  return new Promise<Buffer>((resolve, reject) => {
    const ex = extract();
    let content: Buffer | null = null;
    ex.on('entry', (h, body, next) => {
      if (content !== null || h.type !== 'file') {
        body.resume();
        body.on('end', next);
        if (h.type === 'symlink')
          reject(
            new ValidationError('path', `${path} is a symbolic link; symlinks are not followed`),
          );
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      body.on('data', (data: unknown) => {
        const c = data as Buffer;
        size += c.length;
        if (size > maxBytes) {
          reject(new ValidationError('path', `${path} is over the ${maxBytes}-byte read limit`));
          res.destroy?.();
          return;
        }
        chunks.push(c);
      });
      body.on('end', () => {
        content = Buffer.concat(chunks);
        next();
      });
    });
    ex.on('finish', () =>
      content !== null
        ? resolve(content)
        : reject(new ValidationError('path', `${path} is not a regular file`)),
    );
    ex.on('error', reject);
    res.on('error', (e) => reject(mapDockerError(e)));
    res.pipe(ex);
  });
}

/**
 * The directories between `root` (excluded) and `path`'s parent that do not exist yet, outermost
 * first: one stat of the archive endpoint per level, from the innermost up to the first that
 * exists. Empty when `path` is not below `root`.
 */
export async function missingParents(
  container: Docker.Container,
  path: string,
  root: string,
): Promise<string[]> {
  const missing: string[] = [];
  for (let dir = posix.dirname(path); dir.startsWith(`${root}/`); dir = posix.dirname(dir)) {
    try {
      // The answer is the response stream itself (a HEAD: no body). Unread, it held its
      // connection to the engine for minutes (and kept a process that was done from exiting).
      const res = (await container.infoArchive({ path: dir })) as NodeJS.ReadableStream;
      res.resume();
      break;
    } catch (err) {
      if (!isNotFound(err)) throw mapDockerError(err);
      missing.unshift(dir);
    }
  }
  return missing;
}

/**
 * Writes one file by extracting a tar of it (and of `dirs`) at `/`, owned by `owner`: Docker
 * extracts inside the container's root, so no path (or symlink in it) reaches the host; missing
 * parent directories are created, and an existing symlink at the final component is replaced,
 * not followed.
 */
export async function writeFileToContainer(
  container: Docker.Container,
  path: string,
  content: Buffer,
  mode = 0o644,
  owner: UserIds = ROOT_IDS,
  dirs: string[] = [],
): Promise<void> {
  const mtime = new Date();
  // Directory entries only for `dirs` (missing ones): extracting one re-owns and re-modes an
  // existing directory (e.g. /tmp). Docker creates other missing parents itself (root, 0755).
  await extractAtRoot(container, (p) => {
    for (const d of dirs) {
      p.entry({ name: d.slice(1), type: 'directory', mode: 0o755, mtime, ...owner });
    }
    p.entry({ name: path.slice(1), size: content.length, mode, mtime, ...owner }, content);
  });
}

/** Gives an existing directory (e.g. a volume's mount point) to `owner`, mode 0755. */
export async function writeDirToContainer(
  container: Docker.Container,
  dir: string,
  owner: UserIds,
): Promise<void> {
  await extractAtRoot(container, (p) =>
    p.entry({ name: dir.slice(1), type: 'directory', mode: 0o755, mtime: new Date(), ...owner }),
  );
}

/** Extracts the tar that `fill` writes at the container's `/`. */
async function extractAtRoot(container: Docker.Container, fill: (p: Pack) => void): Promise<void> {
  const p = pack();
  fill(p);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  await docker(() =>
    container.putArchive(Buffer.concat(chunks), { path: '/', noOverwriteDirNonDir: true }),
  );
}
