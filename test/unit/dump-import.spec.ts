import { Readable } from 'node:stream';
import type { DumpRecord } from '../../src/domain/dump';
import { ValidationError } from '../../src/domain/errors';
import type { PersistenceAdapters } from '../../src/ports/persistence-adapters.port';
import { DumpImportService } from '../../src/modules/transfer/dump-import.service';

const T = '2026-01-01T00:00:00.000Z';
const header = {
  type: 'header',
  format: 'opencode-tools-dump',
  version: 1,
  createdAt: T,
  source: 'x',
};
const task = (id: string) => ({
  type: 'task',
  task: {
    id,
    name: id,
    owner: 'o',
    mode: 'exclusive',
    status: 'pending',
    metadata: {},
    version: 1,
    createdAt: T,
    updatedAt: T,
  },
});
const logs = (taskId: string, from: number, n: number) => ({
  type: 'logs',
  taskId,
  from,
  entries: Array.from({ length: n }, (_, i) => ({ ts: T, level: 'info', message: `m${i}` })),
});
const end = (over: Record<string, number> = {}) => ({
  type: 'end',
  counts: {
    tasks: 1,
    states: 0,
    logEntries: 3,
    logRewinds: 0,
    decisions: 0,
    executions: 0,
    checkpoints: 0,
    locks: 0,
    ...over,
  },
});
const dump = (...recs: unknown[]) => Readable.from([recs.map((r) => JSON.stringify(r)).join('\n')]);

/** The import service over a fake importer that just drains what it is given. */
function service(withImporter = true) {
  const got: DumpRecord[] = [];
  const adapters = {
    description: withImporter ? 'postgres:fake' : 'sqlite:/x.db',
    importer: withImporter
      ? {
          importDump: async (recs: AsyncIterable<DumpRecord>) => {
            for await (const r of recs) got.push(r);
          },
        }
      : undefined,
  } as unknown as PersistenceAdapters;
  return { svc: new DumpImportService(adapters), got };
}

async function failure(input: Readable, withImporter = true): Promise<ValidationError> {
  const err = await service(withImporter)
    .svc.importFrom(input, { force: false })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(err).toBeInstanceOf(ValidationError);
  return err as ValidationError;
}

describe('DumpImportService: what single lines cannot show', () => {
  it('passes a well-formed dump through, counting it', async () => {
    const { svc, got } = service();
    const s = await svc.importFrom(
      dump(header, task('t1'), logs('t1', 0, 2), logs('t1', 2, 1), end()),
      {
        force: false,
      },
    );
    expect(s.counts).toMatchObject({ tasks: 1, logEntries: 3 });
    expect(s.source).toBe('x');
    expect(got.map((r) => r.type)).toEqual(['header', 'task', 'logs', 'logs', 'end']);
  });

  it('refuses an empty input or a foreign file', async () => {
    expect((await failure(Readable.from([]))).message).toMatch(/not an opencode-tools-dump header/);
    expect((await failure(dump({ hello: 1 }))).message).toMatch(
      /^dump line 1, type: must be one of/,
    );
  });

  it('refuses a dump from a newer format version', async () => {
    expect((await failure(dump({ ...header, version: 2 }), true)).message).toMatch(
      /upgrade opencode-tools/,
    );
  });

  it('refuses a record that comes before its task, naming the line', async () => {
    const e = await failure(dump(header, logs('t1', 0, 1), task('t1'), end()));
    expect(e.message).toBe(
      'dump line 2, taskId: refers to task t1, whose task record does not come before it',
    );
  });

  it('refuses a gap in a task’s log chunks', async () => {
    const e = await failure(dump(header, task('t1'), logs('t1', 0, 2), logs('t1', 3, 1), end()));
    expect(e.message).toMatch(/dump line 4, from: is 3; the entries of task t1 continue at 2/);
  });

  it('refuses a truncated dump (no end record) and one whose counts disagree', async () => {
    expect((await failure(dump(header, task('t1')))).message).toMatch(
      /without its end record: the file is truncated/,
    );
    const e = await failure(dump(header, task('t1'), logs('t1', 0, 3), end({ tasks: 2 })));
    expect(e.message).toMatch(/counts\.tasks: the dump says 2 but holds 1/);
  });

  it('refuses records after the end record (two files spliced)', async () => {
    const e = await failure(dump(header, task('t1'), logs('t1', 0, 3), end(), task('t2')));
    expect(e.message).toMatch(/dump line 5: follows the end record/);
  });

  it('refuses a store without an importer, naming OPENCODE_DATABASE_URL', async () => {
    const e = await failure(dump(header), false);
    expect(e.message).toMatch(/^OPENCODE_DATABASE_URL: import writes into a Postgres database/);
  });
});
