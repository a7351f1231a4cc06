import type { Task, TaskStatus } from '../../domain/task';

/** The lifecycle events hooks can attach to. Before-hooks may veto by throwing. */
export const TASK_HOOK_EVENTS = [
  'beforeTaskCreate',
  'afterTaskCreate',
  'beforeTaskStart',
  'afterTaskStart',
  'beforeTaskComplete',
  'afterTaskComplete',
  'beforeTaskFail',
  'afterTaskFail',
  'beforeTaskCancel',
  'afterTaskCancel',
  'beforeTaskDelete',
  'afterTaskDelete',
  /** A sandbox crossed a resource threshold or was OOM-killed (`input` is the SandboxAlert). */
  'afterSandboxAlert',
] as const;
export type TaskHookEvent = (typeof TASK_HOOK_EVENTS)[number];

export type BeforeHookEvent = Extract<TaskHookEvent, `before${string}`>;
export type AfterHookEvent = Extract<TaskHookEvent, `after${string}`>;

export interface HookContext {
  event: TaskHookEvent;
  /** Before-hooks see the task as it is now; after-hooks see it as committed. */
  task: Task;
  transition?: { from: TaskStatus | null; to: TaskStatus | null };
  /** What the caller asked for (e.g. `{ result }`, `{ error }`, `{ force }`). */
  input?: Record<string, unknown>;
}

export type HookHandler = (ctx: HookContext) => void | Promise<void>;

export interface HookRegistration {
  name: string;
  event: TaskHookEvent;
  /** Lower runs first. Default 100. */
  priority: number;
  handler: HookHandler;
}

export const DEFAULT_HOOK_PRIORITY = 100;

/** Prefix of the EventEmitter2 events published after every committed change (`opencode.afterTaskStart`…). */
export const HOOK_EVENT_PREFIX = 'opencode.';
