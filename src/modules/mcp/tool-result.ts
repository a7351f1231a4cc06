import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { DomainError, type ErrorCode } from '../../domain/errors';
import type { ToolOutput } from './mcp-tool';

/** `_meta` key under which an error result carries `{code, message, details}` for programs. */
export const ERROR_META_KEY = 'opencode-tools/error';

/** What a model should do next, per error code; appended to the message. */
const NEXT_STEP: Partial<Record<ErrorCode, string>> = {
  VALIDATION: 'Fix the named argument and call again.',
  CONFLICT: 'Someone else changed it: re-read with get_task_status, then retry.',
  ILLEGAL_TRANSITION: 'Call get_task_status to see the current status before retrying.',
  LOCK_HELD: 'Another agent holds it: wait and retry, or use a collaborative task.',
  NOT_ATTACHED: 'Attach first with attach_agent_to_task, then retry with the same agentId.',
  LEASE_EXPIRED: 'Your lease lapsed: attach again with attach_agent_to_task, then retry.',
  HOOK_VETO: 'A lifecycle hook refused; address its reason before retrying.',
  SANDBOX_UNAVAILABLE:
    'The Docker engine is unreachable; this is not fixed by retrying at once. Tell the user.',
  STORAGE_UNAVAILABLE: 'The task database is unavailable; retry later or tell the user.',
};

/** A successful result: the structured object plus a short text (and the JSON for text-only clients). */
export function okResult(out: ToolOutput): CallToolResult {
  return {
    content: [
      {
        type: 'text',
        text: out.fullText ? out.text : `${out.text}\n${JSON.stringify(out.structured)}`,
      },
    ],
    structuredContent: out.structured,
  };
}

/**
 * Maps anything a handler threw to an `isError` result, so that no error ever escapes to the
 * transport. Error results carry no `structuredContent` (clients validate it against the output
 * schema); the code is in the text and, for programs, in `_meta`.
 */
export function errorResult(err: unknown): CallToolResult {
  const body =
    err instanceof DomainError
      ? err.toJSON()
      : {
          code: 'INTERNAL' as const,
          message: `unexpected error: ${err instanceof Error ? err.message : String(err)}`,
          details: {},
        };
  const next =
    body.code === 'NOT_FOUND'
      ? body.details.kind === 'task'
        ? 'Check the id; list_tasks shows the tasks that exist.'
        : undefined
      : NEXT_STEP[body.code];
  const sep = /[.!?]$/.test(body.message) ? ' ' : '. ';
  return {
    isError: true,
    content: [{ type: 'text', text: `${body.code}: ${body.message}${next ? sep + next : ''}` }],
    _meta: { [ERROR_META_KEY]: body },
  };
}
