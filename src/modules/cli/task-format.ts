import type { Task } from '../../domain/task';
import type { TaskPage } from '../../ports/task-repository.port';
import { table } from './output';

export function formatTask(t: Task): string {
  const rows: [string, unknown][] = [
    ['id', t.id],
    ['name', t.name],
    ['status', t.status],
    ['owner', t.owner],
    ['mode', t.mode],
    ['version', t.version],
    ['created', t.createdAt],
    ['updated', t.updatedAt],
    ['started', t.startedAt],
    ['ended', t.endedAt],
    ['description', t.description],
    ['metadata', Object.keys(t.metadata).length ? JSON.stringify(t.metadata) : undefined],
    ['sandbox', t.sandbox ? JSON.stringify(t.sandbox) : undefined],
    ['result', t.result === undefined ? undefined : JSON.stringify(t.result)],
    ['error', t.error],
  ];
  return rows
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k.padEnd(12)}${String(v)}`)
    .join('\n');
}

export function formatTaskPage(page: TaskPage): string {
  if (!page.items.length)
    return page.total ? `no tasks on this page (${page.total} in all)` : 'no tasks';
  const body = table(
    ['ID', 'NAME', 'STATUS', 'OWNER', 'MODE', 'CREATED'],
    page.items.map((t) => [
      t.id,
      t.name.length > 48 ? `${t.name.slice(0, 47)}…` : t.name,
      t.status,
      t.owner,
      t.mode,
      t.createdAt,
    ]),
  );
  const shown = `${page.offset + 1}-${page.offset + page.items.length} of ${page.total}`;
  return `${body}\n(${shown})`;
}
