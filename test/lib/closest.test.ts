import { describe, expect, it } from 'vitest';
import { closest, editDistance } from '../../src/lib/closest.js';

describe('closest', () => {
  it('counts inserts, deletes, replacements and swaps of neighbours as one edit each', () => {
    expect(editDistance('push', 'push')).toBe(0);
    expect(editDistance('pussh', 'push')).toBe(1);
    expect(editDistance('psuh', 'push')).toBe(1);
    expect(editDistance('pull', 'push')).toBe(2);
  });

  it('suggests the nearest word when it is close enough, a word the input starts, and nothing for noise', () => {
    const commands = ['push', 'pull', 'verify', 'model push', 'model pull'];
    expect(closest('pussh', commands)).toBe('push');
    expect(closest('model pul', commands)).toBe('model pull');
    expect(closest('ver', commands)).toBe('verify');
    expect(closest('zzzzzz', commands)).toBeUndefined();
    expect(closest('--forse', ['--force', '--json', '-q'])).toBe('--force');
  });
});
