import Table from 'cli-table3';
import { DomainError, exitCodeFor } from '../../domain/errors';

/** Writes one JSON document (for --json) or human text to stdout. */
export function emit(json: boolean, data: unknown, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`);
}

/** Borderless, left-aligned columns. */
export function table(head: string[], rows: (string | number | undefined | null)[][]): string {
  const t = new Table({
    head,
    chars: {
      top: '',
      'top-mid': '',
      'top-left': '',
      'top-right': '',
      bottom: '',
      'bottom-mid': '',
      'bottom-left': '',
      'bottom-right': '',
      left: '',
      'left-mid': '',
      mid: '',
      'mid-mid': '',
      right: '',
      'right-mid': '',
      middle: '  ',
    },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  for (const r of rows) t.push(r.map((c) => (c === undefined || c === null ? '' : String(c))));
  return t.toString().replace(/[ \t]+$/gm, '');
}

/** Reports an error on stderr (a JSON line under --json) and sets the process exit code. */
export function reportError(err: unknown, json: boolean): void {
  const code = exitCodeFor(err);
  process.exitCode = code;
  if (json) {
    const body =
      err instanceof DomainError
        ? err.toJSON()
        : { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
    process.stderr.write(`${JSON.stringify({ error: body, exitCode: code })}\n`);
    return;
  }
  if (err instanceof DomainError) {
    process.stderr.write(`error: ${err.message}\n`);
  } else {
    process.stderr.write(
      `unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
  }
}
