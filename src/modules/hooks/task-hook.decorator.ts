import { SetMetadata } from '@nestjs/common';
import type { TaskHookEvent } from './hook.types';

export const TASK_HOOK_METADATA = 'opencode-tools:task-hook';

export interface TaskHookMetadata {
  event: TaskHookEvent;
  priority?: number;
  name?: string;
}

/**
 * Marks a provider method as a lifecycle hook. Lower priority runs first; a before-hook vetoes by
 * throwing (its message becomes the reason).
 * @example
 * ```ts
 * @Injectable()
 * class RequireResult {
 *   @TaskHook('beforeTaskComplete', { priority: 10 })
 *   check({ input }: HookContext) {
 *     if (!input?.result) throw new Error('a result is required');
 *   }
 * }
 * ```
 */
export const TaskHook = (event: TaskHookEvent, opts: { priority?: number; name?: string } = {}) =>
  SetMetadata<string, TaskHookMetadata>(TASK_HOOK_METADATA, { event, ...opts });
