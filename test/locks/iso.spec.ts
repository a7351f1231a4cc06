import fc from 'fast-check';
import { iso } from '../../src/domain/lock';

describe('iso (cached ISO-8601 formatting of epoch ms)', () => {
  it('matches Date#toISOString for any instant, in any order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1e13, max: 2.6e14 }), { maxLength: 20 }), (xs) => {
        for (const x of xs) expect(iso(x)).toBe(new Date(x).toISOString());
      }),
    );
    for (const x of [0, 999, 1000, 1767225599999, 1767225600000]) {
      expect(iso(x)).toBe(new Date(x).toISOString());
    }
  });
});
