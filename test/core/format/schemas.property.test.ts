// Property tests of every parser of what aim reads back: on 10,000 generated inputs each, a parser either returns a
// value that is safe to use (digests that are digests, pack ids that are ids, paths that stay inside DEST, sizes
// inside what they point into) or throws an AimError; never anything else, which the CLI would print as an internal
// error with exit 70.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../src/core/config/config.js';
import { isDigest } from '../../../src/core/format/digest.js';
import { MANIFEST_MEDIA_TYPE, parseManifest, unsafePathReason } from '../../../src/core/format/manifest.js';
import { parseConfigData } from '../../../src/core/format/schemas/config.js';
import { DEPLOYMENT_FORMAT, deploymentRecordSchema, INSTALL_STATE_FORMAT, installStateSchema } from '../../../src/core/format/schemas/local-state.js';
import { MAX_CHUNK_BYTES, MAX_PACK_BYTES, MIN_AVG_CHUNK_BYTES, MIN_CHUNK_BYTES } from '../../../src/core/format/schemas/limits.js';
import { describeValue, isPackId, parseJson, parseJsonOrUndefined } from '../../../src/core/format/schemas/parse.js';
import { parseIndexFile, parsePackFooter, parseTag, REPO_METADATA_FORMAT, repoMetadataSchema } from '../../../src/core/format/schemas/store.js';
import { isAimError } from '../../../src/lib/errors.js';

const RUNS = { numRuns: 10_000 };
const HEX64 = 'ab'.repeat(32);

/** Calls `parse`; an AimError is a refusal (undefined), anything else thrown fails the property. */
function attempt<T>(parse: () => T): T | undefined {
  try {
    return parse();
  } catch (error) {
    if (isAimError(error)) return undefined;
    throw error;
  }
}

/** Digests an attacker would try: path tricks, wrong case, wrong length, other algorithms, and a few good ones. */
const digestLike = fc.oneof(
  fc.constantFrom(`blake3:${HEX64}`, `blake3:${HEX64.toUpperCase()}`, `blake3:${HEX64}0`, `blake3:${HEX64.slice(1)}`, `sha256:${HEX64}`),
  fc.constantFrom('blake3:/../../dev/zero', 'blake3:../../etc/passwd', `blake3:${HEX64.slice(0, 60)}/../`, `blake3:${HEX64}\n`, ''),
  fc.string().map((s) => `blake3:${s}`),
  fc.stringMatching(/^blake3:[0-9a-f./]{62,66}$/),
  fc.string(),
  fc.integer(),
  fc.constant(null),
);
const packIdLike = fc.oneof(
  fc.constantFrom('ab'.repeat(16), '../../../secret/passwd', '/etc/passwd', 'AB'.repeat(16), 'ab'.repeat(17), '__proto__', 'constructor'),
  fc.stringMatching(/^[0-9a-f./]{30,34}$/),
  fc.string(),
);
const sizeLike = fc.oneof(fc.integer({ min: -10, max: 2 ** 31 }), fc.double(), fc.constantFrom(2 ** 40, 2 ** 53, 2 ** 64, -0, NaN), fc.string());
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value) ?? '');
/** Arbitrary bytes, arbitrary JSON, or structured candidates: each parser sees all three. */
const inputs = <T>(structured: fc.Arbitrary<T>) =>
  fc.oneof(fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)), fc.jsonValue().map(json), structured.map(json));

describe('schema parsers on generated input (10,000 runs each)', () => {
  it('tags: only a blake3 digest is ever accepted', () => {
    const tag = fc.record({ digest: digestLike, pushedAt: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.string()), size: sizeLike, files: sizeLike });
    fc.assert(
      fc.property(inputs(tag), (bytes) => {
        const record = attempt(() => parseTag(bytes, 'models/m/tags/t'));
        if (record) expect(isDigest(record.digest) && Number.isSafeInteger(record.size) && record.size >= 0).toBe(true);
      }),
      RUNS,
    );
  });

  it('manifests: every accepted path stays inside DEST, every digest is one, chunk sizes add up', () => {
    const path = fc.oneof(fc.constantFrom('a', 'a/b', '../x', '/etc/passwd', 'C:/x', 'a//b', '.aim/state.json', 'a\\b', 'a\0b', '.', ''), fc.string());
    const chunk = fc.record({ digest: digestLike, size: fc.oneof(fc.integer({ min: 1, max: 1000 }), sizeLike) });
    // Mostly a size that adds up, so that the other fields decide.
    const file = fc
      .record({ path, size: fc.oneof(fc.constant(undefined), fc.constant(undefined), sizeLike), mode: fc.oneof(fc.constant(420), sizeLike), digest: digestLike, chunks: fc.array(chunk, { maxLength: 3 }) })
      .map((f) => ({ ...f, size: f.size ?? f.chunks.reduce((sum: number, c) => sum + (c.size as number), 0) }));
    const manifest = fc.record({ schemaVersion: fc.constantFrom(1, 2), mediaType: fc.constant(MANIFEST_MEDIA_TYPE), files: fc.array(file, { maxLength: 3 }), annotations: fc.dictionary(fc.string(), fc.string()) });
    fc.assert(
      fc.property(inputs(manifest), (bytes) => {
        const parsed = attempt(() => parseManifest(bytes, 'blake3:feed'));
        for (const f of parsed?.files ?? []) {
          expect(unsafePathReason(f.path)).toBeUndefined();
          expect(isDigest(f.digest) && f.chunks.every((c) => isDigest(c.digest) && c.size >= 1 && c.size <= MAX_CHUNK_BYTES)).toBe(true);
          expect(f.chunks.reduce((sum, c) => sum + c.size, 0)).toBe(f.size);
        }
      }),
      RUNS,
    );
  });

  it('index files: every accepted pack id is 32 hex and every entry lies inside a pack', () => {
    const entry = fc.tuple(digestLike, sizeLike, sizeLike);
    const index = fc.record({ format: fc.constantFrom(1, 1, 2, '1'), packs: fc.dictionary(packIdLike, fc.array(entry, { maxLength: 3 }), { maxKeys: 3 }) });
    fc.assert(
      fc.property(inputs(index), (bytes) => {
        const packs = attempt(() => parseIndexFile(bytes, 'index/x.json'));
        for (const [pack, entries] of Object.entries(packs ?? {})) {
          expect(isPackId(pack)).toBe(true);
          for (const [digest, offset, size] of entries) {
            expect(isDigest(digest) && offset >= 0 && size >= 1 && size <= MAX_CHUNK_BYTES && offset + size <= MAX_PACK_BYTES).toBe(true);
          }
        }
      }),
      RUNS,
    );
  });

  it('pack footers: every accepted entry lies inside the bytes before the footer, no more entries than bytes', () => {
    const footer = fc.record({ chunks: fc.array(fc.tuple(digestLike, sizeLike, sizeLike), { maxLength: 4 }) });
    fc.assert(
      fc.property(inputs(footer), fc.integer({ min: 0, max: 2 ** 31 }), (bytes, limit) => {
        const entries = attempt(() => parsePackFooter(bytes, limit, 'packs/ab/x'));
        if (!entries) return;
        expect(entries.length).toBeLessThanOrEqual(limit);
        for (const [digest, offset, size] of entries) expect(isDigest(digest) && offset >= 0 && size >= 1 && offset + size <= limit).toBe(true);
      }),
      RUNS,
    );
  });

  it('aim-repo.json: accepted chunk parameters are within the chunker\'s sane ranges and rise', () => {
    const sizes = fc.oneof(fc.constantFrom(1, 1024, 16 * 1024, 128 * 1024, 512 * 1024, 2 ** 21, 2 ** 40), sizeLike);
    const chunking = fc.record({ minSize: sizes, avgSize: sizes, maxSize: sizes, seed: sizeLike, normalization: fc.constantFrom(0, 1, 3, 4, -1, 'x') });
    const metadata = fc.record({ format: fc.constantFrom(1, 2), hash: fc.constantFrom('blake3', 'md5'), chunking });
    fc.assert(
      fc.property(inputs(metadata), (bytes) => {
        const parsed = attempt(() => parseJson(repoMetadataSchema, bytes, REPO_METADATA_FORMAT, 'aim-repo.json'));
        if (!parsed) return;
        const { minSize, avgSize, maxSize } = parsed.chunking;
        expect(minSize >= MIN_CHUNK_BYTES && avgSize >= MIN_AVG_CHUNK_BYTES && minSize <= avgSize && avgSize <= maxSize && maxSize <= MAX_CHUNK_BYTES).toBe(true);
      }),
      RUNS,
    );
  });

  it('install state and deployment records: a cache never throws; a record is refused with an AimError or is well formed', () => {
    const record = fc.record({ name: fc.oneof(fc.constantFrom('tiny', '../x', ''), fc.string()), engine: fc.constantFrom('embedded', 'kamiwaza', 'x'), pid: sizeLike, port: sizeLike, endpoint: fc.constantFrom('http://127.0.0.1:1/v1', 'file:///etc/passwd') });
    fc.assert(
      fc.property(inputs(record), (bytes) => {
        parseJsonOrUndefined(installStateSchema, bytes, INSTALL_STATE_FORMAT);
        const parsed = attempt(() => parseJson(deploymentRecordSchema, bytes, DEPLOYMENT_FORMAT, 'deployments/x.json'));
        if (parsed?.pid !== undefined) expect(Number.isSafeInteger(parsed.pid) && parsed.pid > 1).toBe(true);
        // Empty while a deployment is starting; otherwise an http(s) URL.
        if (parsed?.endpoint) expect(parsed.endpoint).toMatch(/^https?:\/\//);
      }),
      RUNS,
    );
  });

  it('model_repos.yaml: any text is a configuration or one ConfigError, never another failure', () => {
    const yamlish = fc.oneof(
      fc.string(),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.constantFrom('a: &a [1]\nb: *a\n', 'repositories: {r: {type: local, path: /x, concurrency: many}}', 'repositories: [1]', 'kamiwaza: 5', '- - -', '{', '&a [*a]', 'repositories:\n  r: {type: s3, path: s3://b}\n  r: {type: local, path: /y}\n'),
    );
    fc.assert(
      fc.property(yamlish, (text) => {
        const config = attempt(() => parseConfigText(text, '/w/model_repos.yaml'));
        for (const repo of config?.repositories ?? []) expect(['local', 's3']).toContain(repo.type);
      }),
      RUNS,
    );
  });

  it('model_repos.yaml as data: any value is a configuration or one ConfigError; accepted settings have their types', () => {
    const setting = fc.oneof(fc.constantFrom('local', 's3', 's3://b/p', '/x', '', 'http://h:1', 'http://u:p@h', 'when_required', 'eu-west-1', 1, 256, 257, 1.5, true, null), fc.jsonValue());
    // Mostly good values, so that entries are accepted often enough for the checks on them to mean something.
    const field = (...good: unknown[]) => fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...good) }, { weight: 1, arbitrary: setting });
    const settings = { type: field('local', 's3'), path: field('/x', 'rel', 's3://b/p'), region: field('eu-west-1'), endpoint: field('https://h'), profile: field('lab'), checksums: field('when_supported'), concurrency: field(8), packs: field(true) };
    const repo = fc.oneof(
      fc.record(settings, { requiredKeys: ['type', 'path'] }),
      fc.record(settings, { requiredKeys: [] }),
      fc.dictionary(fc.string(), setting, { maxKeys: 3 }),
      fc.jsonValue(),
    );
    const name = fc.oneof(fc.constantFrom('r', 'constructor', 'prototype', '__proto__', '../x', ''), fc.string());
    const config = fc.record(
      { repositories: fc.oneof(fc.dictionary(name, repo, { maxKeys: 3 }), fc.jsonValue()), models: fc.jsonValue(), kamiwaza: fc.oneof(fc.record({ url: setting }), fc.jsonValue()) },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(config, fc.jsonValue(), fc.anything()), (value) => {
        const parsed = attempt(() => parseConfigData(value, '/w/model_repos.yaml'));
        for (const r of parsed?.repositories ?? []) {
          expect(['local', 's3', 'http']).toContain(r.type);
          expect(typeof r.path === 'string' && r.path !== '').toBe(true);
          if (r.concurrency !== undefined) expect(Number.isInteger(r.concurrency) && r.concurrency >= 1 && r.concurrency <= 256).toBe(true);
          if ('endpoint' in r && r.endpoint !== undefined) expect(r.endpoint).toMatch(/^https?:\/\//);
        }
        if (parsed) expect(typeof parsed.models === 'object' && parsed.models !== null && !Array.isArray(parsed.models)).toBe(true);
      }),
      RUNS,
    );
  });

  it('describeValue prints any value on one line without control characters', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.anything()), (value) => {
        expect(describeValue(value)).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/);
      }),
      RUNS,
    );
  });
});
