import {
  appendFileSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeSync,
  closeSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { JsonlLogStore } from '../../src/adapters/jsonl/jsonl-log.store';
import { logQuerySchema, type LogEntry } from '../../src/domain/history';
import type { LogRepair } from '../../src/ports/log-store.port';
import { tempHome } from '../helpers/temp-home';

const q = (input: Record<string, unknown> = {}) => logQuerySchema.parse(input);
const entry = (i: number): LogEntry => ({
  ts: new Date(Date.parse('2026-01-01T00:00:00.000Z') + i).toISOString(),
  level: 'info',
  message: `entry ${i}`,
});
const line = (i: number) => `${JSON.stringify(entry(i))}\n`;

describe('JsonlLogStore (files)', () => {
  let home: ReturnType<typeof tempHome>;
  let dir: string;
  const stores: JsonlLogStore[] = [];
  const open = (opts: Partial<ConstructorParameters<typeof JsonlLogStore>[0]> = {}) => {
    const s = new JsonlLogStore({ dir, fsync: 'off', ...opts });
    stores.push(s);
    return s;
  };
  beforeEach(() => {
    home = tempHome();
    dir = join(home.dir, 'logs');
  });
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    home.cleanup();
  });

  it('group commit: entries wait in memory, then land together on the interval, on size, or on close', async () => {
    const s = open({ flushIntervalMs: 50, flushBytes: 1024 });
    const file = join(dir, 'tsk_a.jsonl');
    s.append('tsk_a', entry(0));
    s.append('tsk_a', entry(1));
    expect(statSync(file).size).toBe(0); // queued, not yet written
    await new Promise((r) => setTimeout(r, 120));
    expect(readFileSync(file, 'utf8')).toBe(line(0) + line(1));
    for (let i = 2; i < 40; i++) s.append('tsk_a', entry(i)); // > 1 KiB queued → written at once
    expect(statSync(file).size).toBeGreaterThan(1024);
    s.append('tsk_a', entry(40));
    await s.close();
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(41);
    const again = open();
    expect((await again.read('tsk_a', q({ tail: 1 }))).entries[0].message).toBe('entry 40');
  });

  it('fsync policy "always" writes every entry at once', async () => {
    const s = open({ fsync: 'always', flushIntervalMs: 10_000 });
    s.append('tsk_a', entry(0));
    expect(readFileSync(join(dir, 'tsk_a.jsonl'), 'utf8')).toBe(line(0));
  });

  it('repairs a torn final line: keeps it aside, truncates to the last good line, appends after it', async () => {
    const s = open();
    for (let i = 0; i < 3; i++) s.append('tsk_a', entry(i));
    await s.close();
    const file = join(dir, 'tsk_a.jsonl');
    const good = statSync(file).size;
    appendFileSync(file, '{"ts":"2026-01-01T00:00:00.003Z","level":"info","mess'); // crash mid-write

    const reader = open();
    const before = await reader.read('tsk_a', q());
    expect(before.entries).toHaveLength(3); // readers never return the fragment…
    expect(before.incompleteTailBytes).toBeGreaterThan(0); // …but say it is there
    expect(before.corrupt).toEqual([]);

    const repairs: LogRepair[] = [];
    const writer = open({ onRepair: (r) => repairs.push(r) });
    writer.append('tsk_a', entry(3)); // opening for append repairs first
    await writer.flush();
    expect(repairs).toEqual([
      expect.objectContaining({ taskId: 'tsk_a', truncatedTo: good, removedBytes: 53 }),
    ]);
    expect(readFileSync(repairs[0].keptAt!, 'utf8')).toBe(
      '{"ts":"2026-01-01T00:00:00.003Z","level":"info","mess',
    );
    const after = await writer.read('tsk_a', q());
    expect(after.entries.map((e) => e.message)).toEqual([
      'entry 0',
      'entry 1',
      'entry 2',
      'entry 3',
    ]);
    expect(after.corrupt).toEqual([]);
    expect(after.incompleteTailBytes).toBe(0);
    expect(await writer.repair('tsk_a')).toBeNull(); // intact now
  });

  it('reports a corrupt middle line with its line number, never skipping it silently', async () => {
    const file = join(dir, 'tsk_a.jsonl');
    const s = open();
    s.append('tsk_a', entry(0));
    await s.flush();
    appendFileSync(
      file,
      line(1) + '{"ts":"x","level":"info",\u0000garbage\n' + line(3) + '\n' + '[1,2]\n' + line(6),
    );
    const r = await s.read('tsk_a', q());
    expect(r.entries.map((e) => [e.line, e.message])).toEqual([
      [1, 'entry 0'],
      [2, 'entry 1'],
      [4, 'entry 3'],
      [7, 'entry 6'],
    ]);
    expect(r.corrupt.map((c) => [c.line, c.reason.split(' (')[0]])).toEqual([
      [3, 'not JSON'],
      [5, 'empty line'],
      [6, 'not a JSON object'],
    ]);
    expect(r.corrupt[0].excerpt).toContain('garbage');
    const t = await s.read('tsk_a', q({ tail: 10 }));
    expect(t.entries).toHaveLength(4);
    expect(t.corrupt).toHaveLength(3); // tail reads report them by byte offset
    expect(t.corrupt[0].pos).toBe(line(0).length + line(1).length);
  });

  it('reads the tail of a 1M-entry log with bounded memory and time', async () => {
    const file = join(dir, 'tsk_big.jsonl');
    const s = open();
    s.append('tsk_big', entry(0));
    await s.close();
    const fd = openSync(file, 'a');
    let total = 1;
    for (let b = 0; b < 1000; b++) {
      let chunk = '';
      for (let i = 0; i < 1000 && total < 1_000_000; i++) chunk += line(total++);
      writeSync(fd, chunk);
    }
    closeSync(fd);
    const size = statSync(file).size;
    expect(size).toBeGreaterThan(60 * 1024 * 1024);

    const reader = open();
    global.gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    const r = await reader.read('tsk_big', q({ tail: 100 }));
    const ms = performance.now() - t0;
    const heapGrowth = process.memoryUsage().heapUsed - heap0;
    const rssGrowth = process.memoryUsage().rss - rss0;
    expect(r.entries).toHaveLength(100);
    expect(r.entries[0].message).toBe('entry 999900');
    expect(r.entries[99].message).toBe('entry 999999');
    // The file is ~70 MB; a tail read touches a couple of 64 KiB chunks.
    expect(heapGrowth).toBeLessThan(8 * 1024 * 1024);
    expect(rssGrowth).toBeLessThan(16 * 1024 * 1024);
    expect(ms).toBeLessThan(500);

    const filtered = await reader.read('tsk_big', q({ tail: 5, text: 'entry 12345' }));
    expect(filtered.entries.map((e) => e.message)).toEqual([
      'entry 123455',
      'entry 123456',
      'entry 123457',
      'entry 123458',
      'entry 123459',
    ]);
  }, 120_000);

  it('several stores (processes) appending to one log interleave whole groups', async () => {
    const a = open();
    const b = open();
    for (let i = 0; i < 500; i++) {
      a.append('tsk_a', entry(i));
      b.append('tsk_a', entry(10_000 + i));
    }
    await a.flush();
    await b.flush();
    const r = await open().read('tsk_a', q({ limit: 5000 }));
    expect(r.entries).toHaveLength(1000);
    expect(r.corrupt).toEqual([]);
  });

  it('rejects task ids that are not safe file names', () => {
    const s = open();
    expect(() => s.append('../etc/passwd', entry(0))).toThrow(/not a valid task id/);
    expect(existsSync(join(home.dir, 'etc'))).toBe(false);
  });

  it('deleting a task removes its log, rewind marks and torn fragments', async () => {
    const s = open();
    s.append('tsk_a', entry(0));
    s.append('tsk_ab', entry(0));
    await s.flush();
    await s.markRewound('tsk_a', 0, 10, 'chk_1');
    writeFileSync(join(dir, 'tsk_a.jsonl.torn-1'), 'x');
    await s.deleteTask('tsk_a');
    expect(readdirSync(dir).sort()).toEqual(['tsk_ab.jsonl']);
  });
});
