import { newId, randomHex } from '../../src/domain/ids';

describe('ids', () => {
  it('newId: a prefixed, lower-case ULID, increasing within a process', () => {
    const a = newId('exe');
    const b = newId('exe');
    expect(a).toMatch(/^exe_[0-9a-hjkmnp-tv-z]{26}$/);
    expect(b > a).toBe(true);
  });

  it('randomHex: the asked number of bytes as hex, never repeated across pool refills', () => {
    const seen = new Set<string>();
    // 4 KiB pool: 1,000 tokens of 16 bytes and a few of other sizes refill it several times.
    for (let i = 0; i < 1000; i++) {
      const t = randomHex();
      expect(t).toMatch(/^[0-9a-f]{32}$/);
      seen.add(t);
    }
    expect(seen.size).toBe(1000);
    expect(randomHex(3)).toMatch(/^[0-9a-f]{6}$/);
    expect(randomHex(4096)).toHaveLength(8192);
    expect(randomHex(5000)).toHaveLength(10000);
  });
});
