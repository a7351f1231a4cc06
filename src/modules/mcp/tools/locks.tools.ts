import { Injectable, Optional } from '@nestjs/common';
import { z } from 'zod';
import { LOCK_LIMITS } from '../../../domain/lock';
import {
  AgentAttachmentService,
  taskResource,
  type Attachment,
} from '../../locks/agent-attachment.service';
import { LockManager } from '../../locks/lock-manager.service';
import { defineTool, type McpToolDefinition, type McpToolProvider } from '../mcp-tool';
import { fields } from '../tool-schemas';

const attachmentShape = {
  taskId: z.string(),
  agentId: z.string(),
  mode: z.enum(['exclusive', 'collaborative']),
  token: z.number().int(),
  ttlMs: z.number().int(),
  acquiredAt: z.string(),
  renewedAt: z.string(),
  expiresAt: z.string(),
};

const ttlMs = z
  .number()
  .int()
  .min(LOCK_LIMITS.minTtlMs)
  .max(LOCK_LIMITS.maxTtlMs)
  .optional()
  .describe(
    `Lease length in milliseconds (default ${LOCK_LIMITS.defaultTtlMs}). Every action you take on the task renews it; attach again to renew explicitly.`,
  );

const attachmentLine = (a: Attachment) =>
  `Agent '${a.agentId}' holds task ${a.taskId} (${a.mode}, fencing token ${a.token}) until ${a.expiresAt}.`;

/** Agent attachments (leases) and lock inspection; present when the Locks module is. */
@Injectable()
export class LockTools implements McpToolProvider {
  constructor(
    @Optional() private readonly attachments?: AgentAttachmentService,
    @Optional() private readonly locks?: LockManager,
  ) {}

  tools(): McpToolDefinition[] {
    const { attachments, locks } = this;
    if (!attachments || !locks) return [];
    return [
      defineTool({
        name: 'attach_agent_to_task',
        title: 'Attach an agent to a task',
        description:
          'Take a lease on a task before acting on it. An exclusive task admits one agent at a time (others get LOCK_HELD naming the holder); a collaborative task admits many. Calling again renews your lease.',
        input: {
          taskId: fields.taskId,
          agentId: fields.agentId,
          ttlMs,
          waitMs: z
            .number()
            .int()
            .min(0)
            .max(LOCK_LIMITS.maxWaitMs)
            .optional()
            .describe(
              'If another agent holds the task, keep retrying for up to this many milliseconds (default 0: fail at once).',
            ),
        },
        output: attachmentShape,
        annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
        async handler(a) {
          const att = await attachments.attach(a.taskId, a.agentId, {
            ttlMs: a.ttlMs,
            waitMs: a.waitMs,
          });
          return { structured: { ...att }, text: attachmentLine(att) };
        },
      }),
      defineTool({
        name: 'detach_agent_from_task',
        title: 'Detach an agent from a task',
        description: 'Release your lease on a task so that other agents can attach.',
        input: { taskId: fields.taskId, agentId: fields.agentId },
        output: { ...attachmentShape, detached: z.literal(true) },
        annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
        async handler(a) {
          const att = await attachments.detach(a.taskId, a.agentId);
          return {
            structured: { ...att, detached: true },
            text: `Agent '${att.agentId}' detached from task ${att.taskId}.`,
          };
        },
      }),
      defineTool({
        name: 'list_locks',
        title: 'List live locks and attachments',
        description:
          'Live leases: which agents hold which tasks (resource "task:<id>") and any other named locks, with mode, fencing token and expiry.',
        input: {
          taskId: fields.taskId.optional().describe('Only the leases on this task.'),
          agentId: fields.agentId.optional().describe('Only the leases this agent holds.'),
        },
        output: {
          locks: z.array(
            z.looseObject({
              resource: z.string(),
              holder: z.string(),
              mode: z.string(),
              token: z.number(),
              expiresAt: z.string(),
            }),
          ),
        },
        annotations: { readOnlyHint: true, idempotentHint: true },
        async handler(a) {
          const grants = await locks.listLocks({
            resource: a.taskId === undefined ? undefined : taskResource(a.taskId),
            holder: a.agentId,
          });
          return {
            structured: { locks: grants.map((g) => ({ ...g })) },
            text: grants.length
              ? `${grants.length} live lock(s):${grants
                  .map(
                    (g) =>
                      `\n- ${g.resource} held by '${g.holder}' (${g.mode}) until ${g.expiresAt}`,
                  )
                  .join('')}`
              : 'No live locks.',
          };
        },
      }),
    ];
  }
}
