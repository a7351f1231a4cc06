import {
  accessSync,
  constants,
  createReadStream,
  existsSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { once } from 'node:events';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { Command, Help, Option } from 'nest-commander';
import type { DumpCounts } from '../../../domain/dump';
import { NotFoundError, ValidationError } from '../../../domain/errors';
import { DumpExportService, emptyExportSummary } from '../../transfer/dump-export.service';
import { DumpImportService } from '../../transfer/dump-import.service';
import { BaseCommand, type BaseOptions } from '../base.command';
import { emit } from '../output';

interface ExportOpts extends BaseOptions {
  out?: string;
  skipCorrupt?: boolean;
  quiet?: boolean;
}

interface ImportOpts extends BaseOptions {
  force?: boolean;
  quiet?: boolean;
}

const countsLine = (c: DumpCounts) =>
  `${c.tasks} tasks, ${c.states} states, ${c.logEntries} log entries, ${c.decisions} decisions, ${c.executions} executions, ${c.checkpoints} checkpoints, ${c.locks} leases`;

/** At most one progress line a second on stderr (the last one is always written by the caller). */
function throttled(quiet: boolean | undefined, line: () => string): () => void {
  let last = Date.now();
  return () => {
    if (quiet || Date.now() - last < 1000) return;
    last = Date.now();
    process.stderr.write(`… ${line()}\n`);
  };
}

/** Buffered line writer to a file or stdout, honouring back-pressure. */
async function lineSink(out: string) {
  if (out === '-') {
    return {
      write: async (s: string) => {
        if (!process.stdout.write(s)) await once(process.stdout, 'drain');
      },
      finish: async () => undefined,
      abort: async () => undefined,
    };
  }
  const tmp = `${out}.tmp-${process.pid}`;
  const fh = await open(tmp, 'wx', 0o600).catch((err: Error) => {
    throw new ValidationError('--out', `cannot create ${out}: ${err.message}`);
  });
  let buf = '';
  return {
    write: async (s: string) => {
      buf += s;
      if (buf.length >= 1 << 20) {
        await fh.write(buf);
        buf = '';
      }
    },
    finish: async () => {
      await fh.write(buf);
      await fh.sync();
      await fh.close();
      renameSync(tmp, out); // only a complete dump ever has the final name
    },
    abort: async () => {
      await fh.close().catch(() => undefined);
      rmSync(tmp, { force: true });
    },
  };
}

@Command({
  name: 'export',
  description:
    'write the whole configured store (tasks, state, logs, decisions, executions, checkpoint records, leases) to a dump file',
})
export class ExportCommand extends BaseCommand<ExportOpts> {
  constructor(private readonly exporter: DumpExportService) {
    super();
  }

  protected async execute(_: string[], o: ExportOpts): Promise<void> {
    if (!o.out) {
      throw new ValidationError('--out', 'is required; give a file path, or - for stdout');
    }
    const toStdout = o.out === '-';
    if (toStdout && o.json) {
      throw new ValidationError(
        '--json',
        'cannot be combined with --out -: the dump itself goes to stdout; write it to a file instead',
      );
    }
    const out = toStdout ? '-' : resolve(o.out);
    if (!toStdout && existsSync(out)) {
      throw new ValidationError('--out', `${out} already exists; remove it or choose another path`);
    }
    const summary = emptyExportSummary();
    const progress = throttled(
      o.quiet,
      () => `export: ${summary.counts.tasks}/${total} tasks; ${countsLine(summary.counts)}`,
    );
    let total = 0;
    const warn = (m: string) => process.stderr.write(`warning: ${m}\n`);
    const sink = await lineSink(out);
    try {
      const records = this.exporter.records(
        {
          skipCorrupt: !!o.skipCorrupt,
          onProgress: (_c, t) => {
            total = t;
            progress();
          },
          onWarning: warn,
        },
        summary,
      );
      for await (const r of records) await sink.write(`${JSON.stringify(r)}\n`);
      await sink.finish();
    } catch (err) {
      await sink.abort();
      throw err;
    }
    if (summary.skippedTornBytes) {
      warn(
        `left out ${summary.skippedTornBytes} bytes of unterminated last log lines (torn by a crash; never part of a log)`,
      );
    }
    if (summary.liveSandboxTasks.length) {
      warn(
        `${summary.liveSandboxTasks.length} pending or running task(s) have a sandbox (${summary.liveSandboxTasks.slice(0, 5).join(', ')}${summary.liveSandboxTasks.length > 5 ? ', …' : ''}); their containers are labelled for the old database, so instances on the new one will treat them as vanished. Checkpoint them first and restore after the import, or finish them`,
      );
    }
    const bytes = toStdout ? undefined : statSync(out).size;
    const result = { out, ...summary, bytes };
    const human = () => `exported ${countsLine(summary.counts)} from ${summary.source} to ${out}`;
    if (toStdout) {
      if (!o.quiet) process.stderr.write(`${human()}\n`);
    } else emit(!!o.json, result, human);
  }

  @Option({ flags: '--out <file>', description: 'dump file to create (- for stdout); required' })
  parseOut(v: string) {
    return v;
  }
  @Option({
    flags: '--skip-corrupt',
    description: 'leave corrupt log lines out (counted) instead of refusing',
  })
  parseSkipCorrupt() {
    return true;
  }
  @Option({ flags: '--quiet', description: 'no progress lines on stderr' })
  parseQuiet() {
    return true;
  }

  @Help('after')
  examples() {
    return `
Reads the configured store (OPENCODE_HOME / OPENCODE_DATABASE_URL) through its ports; stop the
servers writing to it first. The dump is NDJSON: one record per line, log positions as entry
indexes, an end record with the counts. Checkpoint archives stay in <home>/checkpoints.

Examples:
  opencode-tools export --out opencode.dump
  OPENCODE_DATABASE_URL=postgres://agents@db/agents opencode-tools import opencode.dump
  opencode-tools export --out - --quiet | OPENCODE_DATABASE_URL=postgres://… opencode-tools import -`;
  }
}

@Command({
  name: 'import',
  arguments: '<dump>',
  description:
    'load a dump written by export into the configured Postgres database, in one transaction',
})
export class ImportCommand extends BaseCommand<ImportOpts> {
  constructor(private readonly importer: DumpImportService) {
    super();
  }

  protected async execute(params: string[], o: ImportOpts): Promise<void> {
    const path = params[0];
    if (!path) throw new ValidationError('<dump>', 'is required; give the file export wrote, or -');
    let input: Readable;
    if (path === '-') {
      if (process.stdin.isTTY) {
        throw new ValidationError(
          '<dump>',
          '- reads the dump from stdin, which is a terminal; pipe one in',
        );
      }
      input = process.stdin;
    } else {
      const file = resolve(path);
      if (!existsSync(file)) throw new NotFoundError('dump file', file);
      if (!statSync(file).isFile()) throw new ValidationError('<dump>', `${file} is not a file`);
      try {
        accessSync(file, constants.R_OK);
      } catch (err) {
        throw new ValidationError('<dump>', `cannot read ${file}: ${(err as Error).message}`);
      }
      input = createReadStream(file);
    }
    let last: DumpCounts | undefined;
    const progress = throttled(o.quiet, () => `import: read ${countsLine(last!)}`);
    const t0 = Date.now();
    const summary = await this.importer.importFrom(input, {
      force: !!o.force,
      onProgress: (c) => {
        last = c;
        progress();
      },
    });
    const durationMs = Date.now() - t0;
    emit(
      !!o.json,
      { ...summary, durationMs },
      () => `imported ${countsLine(summary.counts)} into ${summary.target} in ${durationMs} ms`,
    );
  }

  @Option({
    flags: '--force',
    description: 'import into a database that already holds data (an id on both sides aborts)',
  })
  parseForce() {
    return true;
  }
  @Option({ flags: '--quiet', description: 'no progress lines on stderr' })
  parseQuiet() {
    return true;
  }

  @Help('after')
  examples() {
    return `
All or nothing: one transaction; a bad or truncated dump, or a clash, leaves the database as it
was. Refuses a database that holds data unless --force. Ids, versions, timestamps, journal
sequence numbers and fencing tokens are kept; live leases are carried over with their expiry.

Examples:
  OPENCODE_DATABASE_URL=postgres://agents@db/agents opencode-tools import opencode.dump --json`;
  }
}

export const TRANSFER_COMMANDS = [ExportCommand, ImportCommand];
