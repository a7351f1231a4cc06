import { execFile } from 'node:child_process';
import { chmodSync, constants, mkdirSync, openSync, closeSync, rmSync, unlinkSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { SESSION_IO_TARGET } from '../../ports/sandbox-runtime.port';
import { names } from './docker-names';

/**
 * Where a sandbox sees its session FIFOs: a read-only bind mount of the task's directory under
 * the io root (`<data home>/io/oct-<taskId>`). Task mounts may not use this path.
 */
export const IO_MOUNT_TARGET = SESSION_IO_TARGET;

/** How long a session start waits for its shell's hello on the FIFO before using the attach stream. */
export const IO_PROBE_MS = 1_000;

/**
 * The host ends of one session's FIFOs: the session shell reads `stdin` and writes `stdout` and
 * `stderr` through the kernel's pipes, with no engine process in between (a `docker exec`'s
 * attach stream passes every chunk through containerd's shim and dockerd: ~0.2 ms per round trip
 * on the machine of the README's figures, against ~0.03 ms over FIFOs).
 */
export interface SessionFifos {
  /** The FIFOs' common path prefix as the sandbox sees it (`.i`, `.o`, `.e` appended). */
  inside: string;
  stdin: Socket;
  stdout: Socket;
  stderr: Socket;
  /** Removes the FIFO files (the open ends stay usable). */
  unlink(): void;
  /** Closes every host end (the shell reads EOF on stdin) and removes the files. */
  destroy(): void;
}

/**
 * Per-task host directories holding session FIFOs, bind-mounted read-only into each sandbox
 * (`OPENCODE_SESSION_IO=fifo`, the default where the engine runs on this host's kernel). The
 * directories hold nothing but FIFOs of live sessions (removed once both ends are open) and go
 * with their sandbox. A sandbox where the FIFOs do not work (created without the mount, a
 * VM-backed or remote engine, an SELinux policy that denies them) gets the attach stream: the
 * session start asks the shell first (see `ExecSession`).
 */
export class SessionIoDirs {
  /**
   * Why FIFOs are off for this process: set once a probe timed out (no FIFO reaches the engine)
   * or `mkfifo` could not be run at all.
   */
  broken?: string;

  constructor(
    readonly root: string,
    /** The `mkfifo` program (looked up on PATH). */
    private readonly mkfifo = 'mkfifo',
  ) {}

  dir(taskId: string): string {
    return join(this.root, names.container(taskId));
  }

  /**
   * Creates the task's directory (and the root, private to this user) if missing. The task's
   * directory is searchable by all (0711): the sandbox's user must reach its FIFOs through the
   * mount; listing it is not needed, and host users cannot pass the root.
   */
  ensure(taskId: string): string {
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    const dir = this.dir(taskId);
    mkdirSync(dir, { recursive: true, mode: 0o711 });
    try {
      chmodSync(dir, 0o711); // (mkdir's mode is masked by the umask)
    } catch {
      // another user's directory: its mode stays; FIFOs that cannot be made there fall back
    }
    return dir;
  }

  /** The bind mount of a task's directory (created here: it must exist when the sandbox starts). */
  mount(taskId: string): Docker.MountSettings {
    return { Type: 'bind', Source: this.ensure(taskId), Target: IO_MOUNT_TARGET, ReadOnly: true };
  }

  /** Removes the task's directory (best effort: what cannot go stays, a few empty inodes). */
  remove(taskId: string): void {
    try {
      rmSync(this.dir(taskId), { recursive: true, force: true });
    } catch {
      // not ours to remove
    }
  }

  /**
   * Makes a session's FIFOs (mode 0666: the sandbox's user is not known here) and opens their
   * host ends without blocking: stdin read-write (a read-write open of a FIFO never waits for
   * the other end), stdout and stderr read-only (they report EOF only after a writer came and
   * went). Throws when the directory or `mkfifo` is missing; nothing is left behind then.
   */
  async open(taskId: string, sid: string): Promise<SessionFifos> {
    const base = join(this.dir(taskId), sid);
    const paths = { i: `${base}.i`, o: `${base}.o`, e: `${base}.e` };
    let linked = true;
    const unlink = () => {
      if (!linked) return;
      linked = false;
      for (const p of Object.values(paths)) {
        try {
          unlinkSync(p);
        } catch {
          // already gone (or never made)
        }
      }
    };
    await new Promise<void>((resolve, reject) =>
      execFile(this.mkfifo, ['-m', '666', '--', paths.i, paths.o, paths.e], (err, _out, stderr) => {
        if (!err) return resolve();
        unlink(); // the FIFOs it made before it failed
        // (`code` ENOENT with no stderr: no `mkfifo` on this host's PATH.)
        const e = new Error(`mkfifo: ${String(stderr).trim() || err.message}`);
        reject(Object.assign(e, { code: typeof err.code === 'string' ? err.code : undefined }));
      }),
    );
    const fds: number[] = [];
    try {
      const { O_RDONLY, O_RDWR, O_NONBLOCK } = constants;
      fds.push(openSync(paths.i, O_RDWR | O_NONBLOCK));
      fds.push(openSync(paths.o, O_RDONLY | O_NONBLOCK));
      fds.push(openSync(paths.e, O_RDONLY | O_NONBLOCK));
    } catch (err) {
      for (const fd of fds) closeSync(fd);
      unlink();
      throw err;
    }
    const [i, o, e] = fds as [number, number, number];
    const stdin = new Socket({ fd: i, readable: false, writable: true });
    const stdout = new Socket({ fd: o, readable: true, writable: false });
    const stderr = new Socket({ fd: e, readable: true, writable: false });
    // Errors come to whoever listens; a stray one must not throw from the socket.
    for (const s of [stdin, stdout, stderr]) s.on('error', () => undefined);
    return {
      inside: `${IO_MOUNT_TARGET}/${sid}`,
      stdin,
      stdout,
      stderr,
      unlink,
      destroy: () => {
        for (const s of [stdin, stdout, stderr]) s.destroy();
        unlink();
      },
    };
  }
}

/**
 * Whether session FIFOs can reach sandboxes of this engine at all: only an engine on this host's
 * kernel (Linux, a local socket, not Docker Desktop's VM). Elsewhere no directory is mounted.
 */
export function fifosPossible(
  info: { OperatingSystem?: string; OSType?: string },
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): boolean {
  const host = env.DOCKER_HOST ?? '';
  if (platform !== 'linux' || (host && !host.startsWith('unix://'))) return false;
  if ((info.OSType ?? 'linux') !== 'linux') return false;
  return !/docker desktop/i.test(info.OperatingSystem ?? '');
}
