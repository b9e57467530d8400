// The hand-written check of manifests as push writes them (src/core/format/manifest-plain.ts) must never accept what
// the schema refuses, nor return anything but what the schema returns: on generated near-manifests (keys reordered or
// added, digests, sizes, modes and paths an attacker would try, annotations with keys the schema drops), every one
// it accepts passes the schema with the same value and the same encoding. And it does recognise push's manifests.
import fc from 'fast-check';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { encodeManifest, MANIFEST_MEDIA_TYPE, manifestSchema, parseManifest } from '../../../src/core/format/manifest.js';
import { isPlainManifest } from '../../../src/core/format/manifest-plain.js';
import type { Digest } from '../../../src/core/format/digest.js';

const HEX64 = 'ab'.repeat(32);
const digestLike = fc.oneof(fc.constant(`blake3:${HEX64}`), fc.constantFrom(`blake3:${HEX64.toUpperCase()}`, `blake3:${HEX64}0`, `sha256:${HEX64}`, '', 7), fc.string());
const sizeLike = fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.constantFrom(-1, 0.5, 2 ** 53, 2 ** 26 + 1, '10', null));
const path = fc.oneof(fc.constantFrom('a', 'a/b', 'a/b/c', 'b', '../x', '/etc/passwd', 'a//b', '.aim/state.json', 'a\\b', '.', 'x\u0007'), fc.string({ maxLength: 6 }));
const key = fc.constantFrom('__proto__', 'constructor', 'prototype', '0', 'extra', 'description');

/** `record` with, sometimes, its keys shuffled, one dropped, or one added. */
function perturbed(record: Record<string, unknown>, rand: fc.Arbitrary<number>) {
  return fc.tuple(rand, key, fc.jsonValue()).map(([how, extra, value]) => {
    const entries = Object.entries(record);
    if (how === 1) entries.reverse();
    if (how === 2) entries.pop();
    if (how === 3) entries.push([extra, value]);
    return JSON.parse(JSON.stringify(Object.fromEntries(entries))) as unknown;
  });
}
const how = fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) });

const chunk = fc.record({ digest: digestLike, size: fc.oneof(fc.integer({ min: 1, max: 1000 }), sizeLike) }).chain((c) => perturbed(c, how));
const file = fc
  .record({ path, size: fc.option(sizeLike), mode: fc.oneof(fc.constant(0o644), sizeLike), digest: digestLike, chunks: fc.array(chunk, { maxLength: 3 }) })
  .map((f) => ({ ...f, size: f.size ?? f.chunks.reduce((sum: number, c) => sum + Number((c as { size?: unknown })?.size), 0) }))
  .chain((f) => perturbed(f, how));
const manifest = fc
  .record({
    schemaVersion: fc.constantFrom(1, 1, 2),
    mediaType: fc.constantFrom(MANIFEST_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, 'text/plain'),
    files: fc.array(file, { maxLength: 4 }),
    annotations: fc.oneof(fc.dictionary(fc.oneof(key, fc.string()), fc.string(), { maxKeys: 3 }), fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 2 })),
  })
  .chain((m) => perturbed(m, how));

describe('manifests recognised without the schema', () => {
  it('accepts only what the schema accepts, and returns what the schema returns (10,000 generated cases)', () => {
    let accepted = 0;
    fc.assert(
      fc.property(manifest, (value) => {
        const bytes = Buffer.from(JSON.stringify(value));
        const bySchema = v.safeParse(manifestSchema, JSON.parse(bytes.toString()));
        let parsed: unknown;
        try {
          parsed = parseManifest(bytes, 'x');
        } catch {
          expect(bySchema.success).toBe(false);
          return;
        }
        expect(bySchema.success).toBe(true);
        expect(parsed).toEqual(bySchema.output);
        expect(JSON.stringify(parsed)).toBe(JSON.stringify(bySchema.output));
        if (isPlainManifest(value, MANIFEST_MEDIA_TYPE)) accepted++;
      }),
      { numRuns: 10_000 },
    );
    // The generator reaches the plain path often enough for the comparison to mean something.
    expect(accepted).toBeGreaterThan(100);
  });

  it('recognises the manifests push writes, empty files and annotations included', () => {
    const d = (n: number) => `blake3:${n.toString(16).padStart(64, '0')}` as Digest;
    const written = encodeManifest({
      schemaVersion: 1,
      mediaType: MANIFEST_MEDIA_TYPE,
      files: [
        { path: 'config.json', size: 3, mode: 0o644, digest: d(1), chunks: [{ digest: d(1), size: 3 }] },
        { path: 'weights/model.bin', size: 15, mode: 0o755, digest: d(2), chunks: [{ digest: d(3), size: 10 }, { digest: d(4), size: 5 }] },
        { path: 'weights/empty', size: 0, mode: 0o644, digest: d(5), chunks: [] },
      ],
      annotations: { description: 'v1', 'org.opencontainers.image.source': 'https://example.com' },
    });
    expect(isPlainManifest(JSON.parse(written.toString()), MANIFEST_MEDIA_TYPE)).toBe(true);
  });

  it('leaves to the schema a manifest with a duplicate path or a file inside another', () => {
    const d = `blake3:${HEX64}`;
    const f = (p: string) => ({ path: p, size: 1, mode: 0o644, digest: d, chunks: [{ digest: d, size: 1 }] });
    for (const files of [[f('a'), f('a')], [f('a'), f('a/b')]]) {
      expect(() => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 1, mediaType: MANIFEST_MEDIA_TYPE, files, annotations: {} })), 'x')).toThrow(/duplicate path|is inside file/);
    }
  });
});
