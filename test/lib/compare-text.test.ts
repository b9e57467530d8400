import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareText } from '../../src/lib/compare-text.js';

describe('compareText', () => {
  it('orders ISO timestamps by time, hex digests and keys as sort() does', () => {
    const times = ['2026-12-06T10:00:00.000Z', '2025-01-31T23:59:59.999Z', '2026-12-06T09:59:59.999Z', '2026-02-01T00:00:00.000Z'];
    const chronological = [...times].sort((a, b) => Date.parse(a) - Date.parse(b));
    expect([...times].sort(compareText)).toEqual(chronological);
    const keys = ['packs/ff/0a', 'packs/0a/ff', 'gc/2026-1', 'gc/2026-01', 'index/9f.json'];
    expect([...keys].sort(compareText)).toEqual([...keys].sort());
  });

  it('is a consistent total order equal to code-unit order, for any strings', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary' })), (texts) => {
        expect([...texts].sort(compareText)).toEqual([...texts].sort());
        for (const a of texts.slice(0, 5)) {
          expect(compareText(a, a)).toBe(0);
          for (const b of texts.slice(0, 5)) expect(compareText(a, b) + compareText(b, a)).toBe(0);
        }
      }),
    );
  });

  it('lists names as git does, the same on every locale: digits, upper case, `_`, lower case', () => {
    expect(['b', 'a-2', 'B', 'a_1', '9', 'a.1', 'A'].sort(compareText)).toEqual(['9', 'A', 'B', 'a-2', 'a.1', 'a_1', 'b']);
  });
});
