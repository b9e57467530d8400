// The hand-written check of stat cache entries as push writes them (src/core/format/stat-entry-plain.ts) must never
// accept what the schema refuses, nor hand on anything but what the schema returns: on generated near-entries (keys
// reordered, dropped or added, sizes that do not add up, digests, numbers and marks an attacker or a damaged disk
// would leave), every one it accepts passes the schema with the same value.
import fc from 'fast-check';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { statCacheEntrySchema } from '../../../src/core/format/schemas/local-state.js';
import { MAX_TEXT } from '../../../src/core/format/schemas/limits.js';
import { isPlainStatEntry } from '../../../src/core/format/stat-entry-plain.js';

const DIGEST = `blake3:${'ab'.repeat(32)}`;
const digestLike = fc.oneof({ weight: 8, arbitrary: fc.constant(DIGEST) }, { weight: 1, arbitrary: fc.constantFrom(`blake3:${'AB'.repeat(32)}`, `sha256:${'ab'.repeat(32)}`, '', 3) });
const size = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 20 }) }, { weight: 1, arbitrary: fc.constantFrom(-1, 0.5, 2 ** 53, '7', null) });
const statNumber = fc.oneof({ weight: 8, arbitrary: fc.double({ min: 0, max: 1e13, noNaN: true }) }, { weight: 1, arbitrary: fc.constantFrom(-1, Number.NaN, Infinity, '1', null) });
const chunk = fc.record({ digest: digestLike, size });
const file = fc.record({ path: fc.constantFrom('w.bin', 'a/b.json', 'c.txt', '../up', '', '/abs'), size, mode: fc.constantFrom(0o644, 0o755, 0o600, 0o10000, -1), digest: digestLike, chunks: fc.array(chunk, { maxLength: 3 }) });
const entry = fc
  .tuple(
    fc.record({ size, mtimeMs: statNumber, ctimeMs: statNumber, ino: statNumber, chunking: fc.constantFrom('0e143bf1681beadf', 7), file }),
    fc.oneof(fc.constant({}), fc.record({ manifest: digestLike }), fc.record({ manifest: digestLike, removals: fc.constantFrom('mark-1', '', 'x'.repeat(MAX_TEXT + 1), 5) })),
    fc.oneof({ weight: 10, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) }),
    fc.boolean(),
  )
  .map(([body, committed, how, addUp]) => {
    // Most entries made to add up (the chunks' sizes to the file's, the file's to the entry's): random ones rarely do.
    if (addUp && body.file.chunks.every((c) => typeof c.size === 'number')) {
      body.file.size = body.file.chunks.reduce((sum, c) => sum + (c.size as number), 0);
      body.size = body.file.size;
    }
    const entries: Array<[string, unknown]> = Object.entries({ ...body, ...committed });
    if (how === 1) entries.reverse();
    if (how === 2) entries.splice(2, 1); // no ctime, as older entries were written
    if (how === 3) entries.push(['extra', 1]);
    return JSON.parse(JSON.stringify(Object.fromEntries(entries))) as unknown;
  });

describe('stat cache entries recognised without the schema', () => {
  it('accepts only what the schema accepts, as the schema returns it (10,000 generated cases)', () => {
    let accepted = 0;
    fc.assert(
      fc.property(entry, (value) => {
        if (!isPlainStatEntry(value)) return;
        accepted++;
        const bySchema = v.safeParse(statCacheEntrySchema, value);
        expect(bySchema.success).toBe(true);
        expect(value).toEqual(bySchema.output);
      }),
      { numRuns: 10_000 },
    );
    // The generator reaches the accepting path often enough for the comparison to mean something: 198–264 times in
    // 10,000 over 40 seeds, so a bound near that mean would fail one run in a few dozen.
    expect(accepted).toBeGreaterThan(100);
  });

  it('recognises an entry as push writes it, before and after its push commits', () => {
    const file = { path: 'w.bin', size: 15, mode: 0o644, digest: DIGEST, chunks: [{ digest: DIGEST, size: 10 }, { digest: `blake3:${'01'.repeat(32)}`, size: 5 }] };
    const written = { size: 15, mtimeMs: 1796658584687.5955, ctimeMs: 1796658584687.5955, ino: 262148, chunking: '0e143bf1681beadf', file };
    expect(isPlainStatEntry(JSON.parse(JSON.stringify(written)))).toBe(true);
    expect(isPlainStatEntry(JSON.parse(JSON.stringify({ ...written, manifest: DIGEST })))).toBe(true);
    expect(isPlainStatEntry(JSON.parse(JSON.stringify({ ...written, manifest: DIGEST, removals: 'r-1' })))).toBe(true);
    expect(isPlainStatEntry({ ...written, size: 16 }), 'chunks that do not add up to the size recorded').toBe(false);
  });
});
