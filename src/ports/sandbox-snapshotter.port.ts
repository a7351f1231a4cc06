import type { Task } from '../domain/task';

/** DI token for {@link SandboxSnapshotter}; optional — without one, checkpoints hold no filesystem. */
export const SANDBOX_SNAPSHOTTER = Symbol('opencode-tools:SandboxSnapshotter');

export type SnapshotProgress = (step: string) => void;

/**
 * The seam through which checkpoints capture and restore a task's sandbox filesystem (the workspace
 * and the container's own changes). The Docker module provides it; checkpoints work without it
 * (state, logs and decisions only). The returned `snapshot` object is stored in the checkpoint as is.
 */
export interface SandboxSnapshotter {
  /** Captures the task's sandbox; `dir` is a private directory for archives, moved into place on commit. */
  snapshot(
    task: Task,
    checkpointId: string,
    dir: string | undefined,
    progress: SnapshotProgress,
  ): Promise<Record<string, unknown> | undefined>;
  /** Re-creates the sandbox from the snapshot (`dir` holds the committed artifacts). */
  restore(
    task: Task,
    snapshot: Record<string, unknown>,
    dir: string | undefined,
    progress: SnapshotProgress,
  ): Promise<void>;
  /** Creates `child`'s sandbox from a parent's snapshot. */
  fork(
    child: Task,
    snapshot: Record<string, unknown>,
    dir: string | undefined,
    progress: SnapshotProgress,
  ): Promise<void>;
  /** Releases images or archives of a deleted checkpoint. */
  remove(snapshot: Record<string, unknown>): Promise<void>;
}
