import { DomainError } from './errors';

export const TASK_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TASK_MODES = ['exclusive', 'collaborative'] as const;
export type TaskMode = (typeof TASK_MODES)[number];

export const NETWORK_POLICIES = ['none', 'internal', 'bridge'] as const;
export type NetworkPolicy = (typeof NETWORK_POLICIES)[number];

/**
 * The smallest process limit a sandbox may have: its init and `sleep` (2), one exec session (its
 * shell, two `tee`s, two leaders each with the shell of its next command: 7) and a few for the
 * command itself.
 */
export const MIN_PIDS = 12;

export type JsonObject = { [key: string]: unknown };

/** Resource limits of a task's sandbox; unset fields take the operator defaults. */
export interface SandboxLimits {
  /** CPUs (fractional allowed), e.g. 0.5 */
  cpus?: number;
  /** Memory limit in MiB; swap is set equal to it. */
  memoryMb?: number;
  /** Maximum number of processes. */
  pids?: number;
}

/** What a task's sandbox should look like. Stored with the task; the Docker module realises it. */
export interface SandboxSpec {
  image?: string;
  limits?: SandboxLimits;
  network?: NetworkPolicy;
  env?: Record<string, string>;
  workdir?: string;
  /** Host directories to mount; each must lie in the operator's allow-list. Read-only by default. */
  mounts?: { source: string; target: string; readOnly?: boolean }[];
}

export interface Task {
  id: string;
  name: string;
  description?: string;
  owner: string;
  mode: TaskMode;
  status: TaskStatus;
  metadata: JsonObject;
  sandbox?: SandboxSpec;
  /** Optimistic concurrency: incremented by every write; writers must present the version they read. */
  version: number;
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  endedAt?: string;
  result?: unknown;
  error?: string;
}

/** The single table of legal status moves; everything that changes status consults it. */
export const TRANSITIONS: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = {
  pending: ['running', 'cancelled'],
  running: ['completed', 'failed', 'cancelled'],
  completed: [],
  failed: [],
  cancelled: [],
};

export const TERMINAL_STATUSES: readonly TaskStatus[] = TASK_STATUSES.filter(
  (s) => TRANSITIONS[s].length === 0,
);

export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export function assertTransition(task: Pick<Task, 'id' | 'status'>, to: TaskStatus): void {
  if (canTransition(task.status, to)) return;
  const allowed = TRANSITIONS[task.status];
  throw new DomainError(
    'ILLEGAL_TRANSITION',
    `task ${task.id} is ${task.status}; cannot move to ${to} (allowed next: ${
      allowed.length ? allowed.join(', ') : 'none, it is terminal'
    })`,
    { taskId: task.id, status: task.status, requested: to, allowed: [...allowed] },
  );
}

/** Fields a transition or edit may change; anything not given is left as it is. */
export type TaskPatch = Partial<
  Pick<
    Task,
    | 'status'
    | 'name'
    | 'description'
    | 'metadata'
    | 'sandbox'
    | 'startedAt'
    | 'endedAt'
    | 'result'
    | 'error'
  >
>;
