import { ValidationError } from '../../src/domain/errors';
import { logQuerySchema, type LogEntry, type LogLevel } from '../../src/domain/history';
import type { LogStore } from '../../src/ports/log-store.port';

export interface LogHandle {
  logs: LogStore;
  /** The store must have been opened with this per-task cap. */
  maxBytes: number;
  close(): Promise<void>;
}

const at = (s: number) => new Date(Date.parse('2026-01-01T00:00:00.000Z') + s * 1000).toISOString();
const entry = (i: number, level: LogLevel = 'info', data?: unknown): LogEntry => ({
  ts: at(i),
  level,
  message: `message ${i}`,
  ...(data === undefined ? {} : { data }),
});
const q = (input: Record<string, unknown> = {}) => logQuerySchema.parse(input);

/** The behaviour every LogStore must have. */
export function describeLogStoreContract(name: string, open: () => Promise<LogHandle>): void {
  describe(`LogStore contract: ${name}`, () => {
    let h: LogHandle;
    beforeEach(async () => {
      h = await open();
    });
    afterEach(() => h.close());

    it('reads nothing from a task without a log', async () => {
      const r = await h.logs.read('tsk_none', q());
      expect(r.entries).toEqual([]);
      expect(r.corrupt).toEqual([]);
      expect(await h.logs.end('tsk_none')).toBe(0);
    });

    it('appends and reads back in order with line numbers and JSON data', async () => {
      for (let i = 0; i < 5; i++)
        h.logs.append('tsk_a', entry(i, 'info', i === 2 ? { k: ['ü', 1] } : undefined));
      h.logs.append('tsk_b', entry(99));
      const r = await h.logs.read('tsk_a', q());
      expect(r.entries.map((e) => [e.line, e.message])).toEqual([
        [1, 'message 0'],
        [2, 'message 1'],
        [3, 'message 2'],
        [4, 'message 3'],
        [5, 'message 4'],
      ]);
      expect(r.entries[2].data).toEqual({ k: ['ü', 1] });
      expect(r.entries[0]).toMatchObject(entry(0));
    });

    it('filters by minimum level, time range and text; pages with offset and limit', async () => {
      const levels: LogLevel[] = ['debug', 'info', 'warn', 'error'];
      for (let i = 0; i < 20; i++)
        h.logs.append(
          'tsk_a',
          entry(i, levels[i % 4], i === 7 ? { note: 'NEEDLE here' } : undefined),
        );
      const warn = await h.logs.read('tsk_a', q({ level: 'warn' }));
      expect(warn.entries.every((e) => e.level === 'warn' || e.level === 'error')).toBe(true);
      expect(warn.entries).toHaveLength(10);
      const range = await h.logs.read('tsk_a', q({ since: at(5), until: at(8) }));
      expect(range.entries.map((e) => e.message)).toEqual([
        'message 5',
        'message 6',
        'message 7',
        'message 8',
      ]);
      expect(
        (await h.logs.read('tsk_a', q({ text: 'needle' }))).entries.map((e) => e.message),
      ).toEqual(['message 7']);
      expect((await h.logs.read('tsk_a', q({ text: 'MESSAGE 1' }))).entries).toHaveLength(11);
      const page = await h.logs.read('tsk_a', q({ offset: 5, limit: 3 }));
      expect(page.entries.map((e) => e.line)).toEqual([6, 7, 8]);
    });

    it('tails the last N matching entries, oldest first', async () => {
      for (let i = 0; i < 50; i++) h.logs.append('tsk_a', entry(i, i % 5 === 0 ? 'error' : 'info'));
      const t = await h.logs.read('tsk_a', q({ tail: 3 }));
      expect(t.entries.map((e) => e.message)).toEqual(['message 47', 'message 48', 'message 49']);
      const te = await h.logs.read('tsk_a', q({ tail: 2, level: 'error' }));
      expect(te.entries.map((e) => e.message)).toEqual(['message 40', 'message 45']);
      expect((await h.logs.read('tsk_a', q({ tail: 500 }))).entries).toHaveLength(50);
    });

    it('continues from a position: a follow-up read returns only newer entries', async () => {
      for (let i = 0; i < 3; i++) h.logs.append('tsk_a', entry(i));
      const first = await h.logs.read('tsk_a', q());
      expect(await h.logs.end('tsk_a')).toBe(first.next);
      h.logs.append('tsk_a', entry(3));
      const more = await h.logs.read('tsk_a', { ...q(), from: first.next });
      expect(more.entries.map((e) => e.message)).toEqual(['message 3']);
      expect(more.entries[0].pos).toBeGreaterThanOrEqual(first.next);
      const none = await h.logs.read('tsk_a', { ...q(), from: more.next });
      expect(none.entries).toEqual([]);
    });

    it('marks a range rewound; reads flag or omit it', async () => {
      h.logs.append('tsk_a', entry(0));
      const p1 = await h.logs.end('tsk_a');
      h.logs.append('tsk_a', entry(1));
      h.logs.append('tsk_a', entry(2));
      const p2 = await h.logs.end('tsk_a');
      h.logs.append('tsk_a', entry(3));
      await h.logs.markRewound('tsk_a', p1, p2, 'chk_x');
      const all = await h.logs.read('tsk_a', q());
      expect(all.entries.map((e) => e.rewoundBy)).toEqual([undefined, 'chk_x', 'chk_x', undefined]);
      const live = await h.logs.read('tsk_a', q({ includeRewound: false }));
      expect(live.entries.map((e) => e.message)).toEqual(['message 0', 'message 3']);
    });

    it('copies a prefix into another task (fork), before that task’s own entries', async () => {
      for (let i = 0; i < 4; i++) h.logs.append('tsk_a', entry(i));
      h.logs.append('tsk_a', entry(1000));
      const mid = (await h.logs.read('tsk_a', q())).entries[2].pos;
      h.logs.append('tsk_c', entry(500));
      await h.logs.copyPrefix('tsk_a', 'tsk_c', mid);
      h.logs.append('tsk_c', entry(501));
      const child = await h.logs.read('tsk_c', q());
      expect(child.entries.map((e) => e.message)).toEqual([
        'message 0',
        'message 1',
        'message 500',
        'message 501',
      ]);
      expect((await h.logs.read('tsk_a', q())).entries).toHaveLength(5);
    });

    it('refuses appends beyond the per-task cap and writes nothing', async () => {
      const big = 'x'.repeat(Math.floor(h.maxBytes / 3));
      h.logs.append('tsk_a', { ...entry(0), message: big });
      h.logs.append('tsk_a', { ...entry(1), message: big });
      expect(() => h.logs.append('tsk_a', { ...entry(2), message: big })).toThrow(ValidationError);
      expect(() => h.logs.append('tsk_a', { ...entry(2), message: big })).toThrow(/cap/);
      expect((await h.logs.read('tsk_a', q())).entries).toHaveLength(2);
      h.logs.append('tsk_b', { ...entry(0), message: big }); // the cap is per task
    });

    it('deletes a task’s log', async () => {
      h.logs.append('tsk_a', entry(0));
      await h.logs.flush();
      await h.logs.deleteTask('tsk_a');
      expect((await h.logs.read('tsk_a', q())).entries).toEqual([]);
      h.logs.append('tsk_a', entry(1));
      expect((await h.logs.read('tsk_a', q())).entries.map((e) => e.message)).toEqual([
        'message 1',
      ]);
    });
  });
}
