import { ValidationError } from '../../domain/errors';

/** Default per-task log cap (bytes); `OPENCODE_LOG_MAX_BYTES` changes it. */
export const DEFAULT_LOG_MAX_BYTES = 256 * 1024 * 1024;

export function logCapError(taskId: string, maxBytes: number): ValidationError {
  return new ValidationError(
    'log',
    `the log of task ${taskId} reached its cap of ${maxBytes} bytes (OPENCODE_LOG_MAX_BYTES); nothing was written. Raise the cap or checkpoint and fork into a new task`,
    { taskId, maxBytes },
  );
}
