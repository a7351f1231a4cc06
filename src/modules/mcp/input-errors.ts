import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { z } from 'zod';

type Issue = z.core.$ZodIssue;

function describeIssue(issue: Issue, known: readonly string[]): string {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.join(', ');
    return `${keys}: unknown argument${issue.keys.length > 1 ? 's' : ''}; the arguments are: ${known.join(', ')}`;
  }
  const missing = issue.code === 'invalid_type' && / received undefined$/.test(issue.message);
  const message = missing ? `is required (${issue.expected})` : issue.message;
  return `${path || 'arguments'}: ${message}`;
}

/** The text of an invalid-arguments result: the code, every offending field, what to do. */
export function invalidArgumentsMessage(
  tool: string,
  issues: readonly Issue[],
  known: readonly string[],
): string {
  const what = issues.map((i) => describeIssue(i, known)).join('; ');
  return `VALIDATION: invalid arguments for ${tool}: ${what}. Fix the named argument and call again.`;
}

interface ValidatingServer {
  validateToolInput?: (tool: { inputSchema?: unknown }, args: unknown, name: string) => unknown;
}

/**
 * The SDK already refuses arguments that do not match a tool's schema, as an `isError` result
 * reading "MCP error -32602: Input validation error: … at taskId". This re-phrases it in the form
 * every other error uses (`VALIDATION: taskId: …`), so a model sees one error format. It wraps an
 * internal SDK method: if a future SDK renames it, the SDK's own (still correct) message remains.
 */
export function phraseInputErrorsLikeDomainErrors(server: McpServer): void {
  const s = server as unknown as ValidatingServer;
  const original = s.validateToolInput;
  if (typeof original !== 'function') return;
  s.validateToolInput = async (tool, args, name) => {
    const schema = tool.inputSchema as z.ZodObject | undefined;
    if (!schema || typeof schema.safeParseAsync !== 'function') {
      return original.call(server, tool, args, name);
    }
    // Synchronous parse (no async machinery on every call); a schema with async parts throws,
    // and is then parsed asynchronously.
    let parsed: ReturnType<z.ZodObject['safeParse']>;
    try {
      parsed = schema.safeParse(args ?? {});
    } catch {
      parsed = await schema.safeParseAsync(args ?? {});
    }
    if (parsed.success) return parsed.data;
    throw new Error(
      invalidArgumentsMessage(name, parsed.error.issues, Object.keys(schema.shape ?? {})),
    );
  };
}
