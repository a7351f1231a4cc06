import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { TASK_MODES, TASK_STATUSES } from '../../../domain/task';
import { TASK_SORT_FIELDS } from '../../../domain/task.schema';
import { TasksService } from '../../tasks/tasks.service';
import { defineTool, type McpToolDefinition, type McpToolProvider } from '../mcp-tool';
import { fields, listLimits, taskLine, taskObject, taskShape, taskView } from '../tool-schemas';

const statusEnum = z.enum(TASK_STATUSES);

/** Read-only tools over the task registry. */
@Injectable()
export class TaskQueryTools implements McpToolProvider {
  constructor(private readonly tasks: TasksService) {}

  tools(): McpToolDefinition[] {
    const tasks = this.tasks;
    return [
      defineTool({
        name: 'get_task_status',
        title: 'Get a task',
        description:
          'Return one task: status, mode, owner, version, timestamps, sandbox spec, result or error.',
        input: { taskId: fields.taskId },
        output: taskShape,
        annotations: { readOnlyHint: true, idempotentHint: true },
        async handler(a) {
          const task = await tasks.get(a.taskId);
          return { structured: taskView(task), text: taskLine(task) };
        },
      }),
      defineTool({
        name: 'list_tasks',
        title: 'List or search tasks',
        description:
          'List tasks, newest first, filtered by status, owner, mode or creation time, and/or by text (name, description, metadata). Paged with limit/offset.',
        input: {
          status: z
            .union([statusEnum, z.array(statusEnum)])
            .optional()
            .describe(
              'Only tasks in this status or these statuses, e.g. "running" or ["pending","running"].',
            ),
          owner: z.string().min(1).optional().describe('Only tasks of this owner.'),
          mode: z.enum(TASK_MODES).optional().describe('Only exclusive or collaborative tasks.'),
          createdSince: z.iso
            .datetime({ offset: true })
            .optional()
            .describe('ISO-8601 date-time; only tasks created at or after it.'),
          createdUntil: z.iso
            .datetime({ offset: true })
            .optional()
            .describe('ISO-8601 date-time; only tasks created at or before it.'),
          text: z
            .string()
            .trim()
            .min(1)
            .max(500)
            .optional()
            .describe(
              'Case-insensitive text to find in name, description or metadata; combines with the other filters.',
            ),
          limit: z
            .number()
            .int()
            .min(1)
            .max(listLimits.max)
            .optional()
            .describe(`Page size, 1-${listLimits.max}; default ${listLimits.default}.`),
          offset: z.number().int().min(0).optional().describe('Tasks to skip; default 0.'),
          sort: z.enum(TASK_SORT_FIELDS).optional().describe('Sort field; default createdAt.'),
          order: z.enum(['asc', 'desc']).optional().describe('Sort order; default desc.'),
        },
        output: {
          tasks: z.array(taskObject),
          total: z.number().int(),
          limit: z.number().int(),
          offset: z.number().int(),
        },
        annotations: { readOnlyHint: true, idempotentHint: true },
        async handler(a) {
          const { text, limit, offset, ...filters } = a;
          const status = typeof filters.status === 'string' ? [filters.status] : filters.status;
          const query = { ...filters, status, limit, offset };
          const page = text !== undefined ? await tasks.find(text, query) : await tasks.list(query);
          const shown = page.items.length
            ? `${page.offset + 1}-${page.offset + page.items.length} of ${page.total}`
            : `none of ${page.total}`;
          return {
            structured: {
              tasks: page.items.map(taskView),
              total: page.total,
              limit: page.limit,
              offset: page.offset,
            },
            text: `Tasks ${shown}.${page.items.map((t) => `\n- ${t.id} ${t.status} "${t.name}"`).join('')}`,
          };
        },
      }),
      defineTool({
        name: 'task_stats',
        title: 'Task statistics',
        description:
          'Counts of tasks by status and by owner, and run times of finished tasks per final status.',
        input: { owner: z.string().min(1).optional().describe('Only tasks of this owner.') },
        output: {
          total: z.number().int(),
          byStatus: z.record(z.string(), z.number()),
          byOwner: z.array(z.looseObject({ owner: z.string(), total: z.number() })),
          durations: z.record(z.string(), z.unknown()),
        },
        annotations: { readOnlyHint: true, idempotentHint: true },
        async handler(a) {
          const stats = await tasks.stats({ owner: a.owner });
          const counts = Object.entries(stats.byStatus)
            .filter(([, n]) => n > 0)
            .map(([s, n]) => `${n} ${s}`)
            .join(', ');
          return {
            structured: stats as unknown as Record<string, unknown>,
            text: `${stats.total} tasks${counts ? `: ${counts}` : ''}.`,
          };
        },
      }),
    ];
  }
}
