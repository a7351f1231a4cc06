import { BoundedKeep } from '../../src/domain/bounded-keep';
import { OutputLog } from '../../src/domain/output-log';

describe('BoundedKeep', () => {
  let now = 0;
  const keep = (maxEntries = 3, maxBytes = 100, ttlMs = 1000) =>
    new BoundedKeep<string>({ ttlMs, maxEntries, maxBytes }, () => now);
  beforeEach(() => (now = 0));

  it('drops the oldest entries past its count', () => {
    const k = keep(2);
    k.set('a', 'A', 1);
    k.set('b', 'B', 1);
    k.set('c', 'C', 1);
    expect([k.get('a'), k.get('b'), k.get('c')]).toEqual([undefined, 'B', 'C']);
    expect(k.size).toBe(2);
  });

  it('drops the oldest entries until a new one fits its bytes, and keeps none larger than all', () => {
    const k = keep(10, 100);
    k.set('a', 'A', 40);
    k.set('b', 'B', 40);
    k.set('c', 'C', 30);
    expect([k.has('a'), k.has('b'), k.has('c')]).toEqual([false, true, true]);
    expect(k.bytes).toBe(70);
    expect(k.set('huge', 'H', 101)).toBe(false);
    expect([k.has('huge'), k.has('b'), k.bytes]).toEqual([false, true, 70]);
  });

  it('never returns an expired entry, and frees expired ones when adding', () => {
    const k = keep(10, 100, 1000);
    k.set('a', 'A', 10);
    now = 500;
    k.set('b', 'B', 10);
    now = 1000;
    expect(k.get('a')).toBeUndefined();
    expect(k.get('b')).toBe('B');
    now = 1500;
    k.set('c', 'C', 10);
    expect([k.size, k.bytes]).toEqual([1, 10]);
  });

  it('replaces an entry of the same key, counting its bytes once', () => {
    const k = keep();
    k.set('a', 'A', 10);
    k.set('a', 'A2', 20);
    expect([k.get('a'), k.size, k.bytes]).toEqual(['A2', 1, 20]);
    expect(k.delete('a')).toBe(true);
    expect([k.size, k.bytes]).toEqual([0, 0]);
  });
});

describe('OutputLog.compact', () => {
  it('joins the chunks into one buffer of its own, reading the same bytes at the same offsets', () => {
    const log = new OutputLog(8);
    for (const s of ['abc', 'defg', 'hijkl']) log.push(Buffer.from(s));
    const before = log.read(0, 100);
    log.compact();
    expect(log.read(0, 100)).toEqual(before);
    expect(before).toMatchObject({ next: 12, skipped: 4 });
    expect(before.data.toString()).toBe('efghijkl');
    expect(log.size).toBe(8);
    const one = (log as unknown as { chunks: Buffer[] }).chunks;
    expect(one).toHaveLength(1);
    // Not a slice of the shared pool: the buffer is exactly its bytes.
    expect(one[0]!.buffer.byteLength).toBe(8);
  });
});

describe('OutputLog.read', () => {
  /** What the log must answer: the newest `max` bytes of everything pushed, by absolute offset. */
  function expected(all: Buffer, max: number, offset: number, maxBytes: number) {
    const start = Math.max(0, all.length - max);
    const from = Math.max(offset, start);
    const data = all.subarray(from, from + maxBytes);
    return { data: Buffer.from(data), next: from + data.length, skipped: from - offset };
  }

  type Read = ReturnType<OutputLog['read']>;
  const same = (a: Read, b: Read) => {
    expect([a.next, a.skipped, a.data.toString('latin1')]).toEqual([
      b.next,
      b.skipped,
      b.data.toString('latin1'),
    ]);
  };

  it('answers every offset and length as the whole stream would, while it drops its oldest bytes', () => {
    let seed = 7;
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    for (const max of [1, 10, 100, 5000]) {
      const log = new OutputLog(max);
      let all = Buffer.alloc(0);
      for (let i = 0; i < 3000; i++) {
        const chunk = Buffer.from(Array.from({ length: rand(40) }, () => 97 + rand(26)));
        log.push(chunk);
        all = Buffer.concat([all, chunk]);
        if (i % 7 === 0) {
          const offset = rand(all.length + 20);
          const maxBytes = rand(2 * max + 5);
          same(log.read(offset, maxBytes), expected(all, max, offset, maxBytes));
        }
      }
      expect(log.size).toBe(Math.min(max, all.length));
      same(log.read(0, max), expected(all, max, 0, max));
    }
  });
});
