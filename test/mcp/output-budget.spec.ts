import fc from 'fast-check';
import { headTail, isText } from '../../src/modules/mcp/output-budget';

describe('headTail', () => {
  it('leaves output within the budget alone', () => {
    expect(headTail('hello', 5)).toEqual({ text: 'hello', truncated: false });
  });

  it('keeps the head and the tail and says how much was omitted', () => {
    const r = headTail(`start${'x'.repeat(1000)}end`, 20);
    expect(r.truncated).toBe(true);
    expect(r.text).toMatch(/^startxxxxx\n\[… 988 bytes omitted …\]\nxxxxxxxend$/);
  });

  it('never splits a character and keeps within the budget', () => {
    const text = fc
      .string({ unit: 'grapheme', maxLength: 300 })
      .filter((s) => !s.includes('\uFFFD'));
    fc.assert(
      fc.property(text, fc.integer({ min: 4, max: 64 }), (s, max) => {
        const r = headTail(s, max);
        expect(r.text).not.toContain('\uFFFD');
        if (!r.truncated) return expect(r.text).toBe(s);
        const body = r.text.replace(/\n\[… \d+ bytes omitted …\]\n/, '');
        expect(Buffer.byteLength(body)).toBeLessThanOrEqual(max);
      }),
    );
  });

  it('tells text from binary', () => {
    expect(isText(Buffer.from('héllo\n'))).toBe(true);
    expect(isText(Buffer.from([0x66, 0x00, 0x67]))).toBe(false);
    expect(isText(Buffer.from([0xff, 0xfe, 0x41]))).toBe(false);
  });
});
