import { SANDBOX_LABELS } from '../../ports/sandbox-runtime.port';

/** Engine-wide unique names derived from the (unique) task id. */
export const names = {
  container: (taskId: string) => `oct-${taskId}`,
  network: (taskId: string) => `oct-net-${taskId}`,
  volume: (taskId: string) => `oct-ws-${taskId}`,
};

export function labelsFor(taskId: string, extra: Record<string, string>): Record<string, string> {
  return { ...extra, [SANDBOX_LABELS.managed]: 'true', [SANDBOX_LABELS.taskId]: taskId };
}

/** Engine-side filter selecting everything we manage (optionally one task's). */
export function managedFilter(taskId?: string): { label: string[] } {
  const label = [`${SANDBOX_LABELS.managed}=true`];
  if (taskId) label.push(`${SANDBOX_LABELS.taskId}=${taskId}`);
  return { label };
}
