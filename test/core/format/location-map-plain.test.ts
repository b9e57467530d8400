// The hand-written check of location maps as push writes them (src/core/format/location-map-plain.ts) must never
// accept what the schema refuses, nor hand on anything but what the schema returns: on generated near-maps (keys
// reordered or added, pack ids, digests, offsets and sizes an attacker would try, entries of the wrong length), every
// one it accepts passes the schema with the same value.
import fc from 'fast-check';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { isPlainLocationMap } from '../../../src/core/format/location-map-plain.js';
import { MAX_PACK_BYTES } from '../../../src/core/format/schemas/limits.js';
import { locationMapSchema } from '../../../src/core/format/schemas/store.js';

const HEX64 = 'ab'.repeat(32);
const PACK = 'cd'.repeat(16);
const CHECKED = new Map([[`blake3:${HEX64}`, 10]]);
const digestLike = fc.oneof(fc.constant(`blake3:${HEX64}`), fc.constantFrom(`blake3:${HEX64.toUpperCase()}`, `sha256:${HEX64}`, '', 3), fc.string());
const packLike = fc.oneof(fc.constant(PACK), fc.constantFrom('__proto__', 'constructor', PACK.toUpperCase(), `${PACK}0`, '0'), fc.string({ maxLength: 4 }));
const whole = fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.constantFrom(-1, 0.5, MAX_PACK_BYTES, MAX_PACK_BYTES - 1, 2 ** 26 + 1, 2 ** 53, '7', null));
const entry = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(digestLike, whole, whole) },
  { weight: 1, arbitrary: fc.array(fc.oneof(digestLike, whole), { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.jsonValue() },
);
const map = fc
  .tuple(
    fc.record({ format: fc.constantFrom(1, 1, 2), manifest: digestLike, packs: fc.dictionary(packLike, fc.oneof(fc.array(entry, { maxLength: 4 }), fc.jsonValue()), { maxKeys: 3 }) }),
    fc.oneof({ weight: 10, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) }),
  )
  .map(([body, how]) => {
    const entries: Array<[string, unknown]> = Object.entries(body);
    if (how === 1) entries.reverse();
    if (how === 2) entries.pop();
    if (how === 3) entries.push(['extra', 1]);
    return JSON.parse(JSON.stringify(Object.fromEntries(entries))) as unknown;
  });

describe('location maps recognised without the schema', () => {
  it('accepts only what the schema accepts, as the schema returns it (10,000 generated cases)', () => {
    let accepted = 0;
    fc.assert(
      fc.property(map, (value) => {
        // Digests already checked (the version's chunks, given by the reader) change nothing but the work done.
        expect(isPlainLocationMap(value, CHECKED)).toBe(isPlainLocationMap(value));
        if (!isPlainLocationMap(value)) return;
        accepted++;
        const bySchema = v.safeParse(locationMapSchema, value);
        expect(bySchema.success).toBe(true);
        expect(value).toEqual(bySchema.output);
      }),
      { numRuns: 10_000 },
    );
    expect(accepted).toBeGreaterThan(100);
  });

  it('recognises a map as push writes it', () => {
    const written = { format: 1, manifest: `blake3:${HEX64}`, packs: { [PACK]: [[`blake3:${HEX64}`, 0, 10], [`blake3:${'01'.repeat(32)}`, 10, 5]] } };
    expect(isPlainLocationMap(JSON.parse(JSON.stringify(written)))).toBe(true);
  });
});
