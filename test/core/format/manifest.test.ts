import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../../../src/lib/errors.js';
import {
  encodeManifest,
  manifestDigest,
  manifestSize,
  MANIFEST_MEDIA_TYPE,
  parseManifest,
  unsafePathReason,
  type Manifest,
  type ManifestFile,
} from '../../../src/core/format/manifest.js';
import type { Digest } from '../../../src/core/format/digest.js';

const d = (n: number): Digest => `blake3:${n.toString(16).padStart(64, '0')}` as Digest;

function file(path: string, sizes: number[] = [10, 5]): ManifestFile {
  return { path, size: sizes.reduce((a, b) => a + b, 0), mode: 0o644, digest: d(1), chunks: sizes.map((size, i) => ({ digest: d(i + 2), size })) };
}

function manifest(files: unknown[], extra: Record<string, unknown> = {}): Uint8Array {
  return Buffer.from(JSON.stringify({ schemaVersion: 1, mediaType: MANIFEST_MEDIA_TYPE, files, annotations: {}, ...extra }));
}

function rejection(bytes: Uint8Array): IntegrityError {
  try {
    parseManifest(bytes, 'blake3:feed in repository r');
  } catch (error) {
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as IntegrityError).hint).toBeTruthy();
    return error as IntegrityError;
  }
  throw new Error('parseManifest accepted a bad manifest');
}

describe('manifest', () => {
  it('accepts a valid manifest and round-trips through encodeManifest with a stable digest', async () => {
    const valid: Manifest = {
      schemaVersion: 1,
      mediaType: MANIFEST_MEDIA_TYPE,
      files: [file('config.json', [3]), file('weights/model.safetensors'), file('weights/empty.bin', [])],
      annotations: { description: 'v1' },
    };
    const bytes = encodeManifest(valid);
    expect(parseManifest(bytes, 'x')).toEqual(valid);
    expect(manifestSize(valid)).toBe(3 + 15 + 0);
    expect(await manifestDigest(bytes)).toBe(await manifestDigest(encodeManifest(parseManifest(bytes, 'x'))));
    expect(await manifestDigest(bytes)).toMatch(/^blake3:[0-9a-f]{64}$/);
    // Files named like a segment prefix are not "inside" each other.
    expect(() => parseManifest(manifest([file('a'), file('ab/c'), file('a.d/e')]), 'x')).not.toThrow();
  });

  it.each([
    ['an absolute path', [file('/etc/passwd')], /files\.0\.path: "\/etc\/passwd" is absolute/],
    ['a Windows drive path', [file('C:/x')], /path: "C:\/x" is absolute/],
    ['a .. segment', [file('../evil')], /path: "\.\.\/evil" has a "\.\." segment/],
    ['a .. segment in the middle', [file('a/../../evil')], /has a "\.\." segment/],
    ['a . segment', [file('./a')], /has a "\." segment/],
    ['a backslash', [file('a\\b')], /path: .* contains a backslash/],
    ['an empty segment', [file('a//b')], /has an empty segment/],
    ['a trailing slash', [file('a/')], /has an empty segment/],
    ['an empty path', [file('')], /path: "" is empty/],
    ['a NUL byte', [file('a\0b')], /path: "a\\u0000b" contains a NUL byte/],
    ['a path inside .aim', [file('.aim/state.json')], /inside \.aim/],
    ['a duplicate path', [file('a/b'), file('a/b')], /duplicate path "a\/b"/],
    ['a file inside a file', [file('a'), file('a/b')], /path "a\/b" is inside file "a"/],
    ['a file deep inside a file', [file('x/y/z/w'), file('x/y')], /path "x\/y\/z\/w" is inside file "x\/y"/],
    ['a bad file digest', [{ ...file('a'), digest: 'blake3:XYZ' }], /files\.0\.digest: "blake3:XYZ" is not a digest/],
    ['a sha256 file digest', [{ ...file('a'), digest: `sha256:${'0'.repeat(64)}` }], /digest: "sha256:0+\.\.\." is not a digest/],
    ['a bad chunk digest', [{ ...file('a'), chunks: [{ digest: 'nope', size: 15 }] }], /files\.0\.chunks\.0\.digest: "nope" is not a digest/],
    ['a missing chunk list', [{ ...file('a'), chunks: undefined }], /files\.0\.chunks: is missing/],
    ['chunk sizes that do not add up', [{ ...file('a'), size: 16 }], /files\.0: chunk sizes do not add up/],
    ['a negative chunk size', [{ ...file('a', [20, -5]) }], /chunks\.1\.size: -5 is less than 1/],
    ['a fractional size', [{ ...file('a', [1.5]), size: 1.5 }], /files\.0\.size: 1\.5 is not a whole number/],
    ['a bad mode', [{ ...file('a'), mode: 'rw' }], /files\.0\.mode: expected number, got "rw"/],
    ['a file that is not an object', [null], /files\.0: expected Object, got null/],
    ['a chunk larger than any chunker cuts', [{ ...file('a', [65 * 1024 * 1024]) }], /size: 68157440 is more than 67108864/],,
  ] as Array<[string, unknown[], RegExp, Record<string, unknown>?]>)('rejects %s with an IntegrityError', (_what, files, message, extra) => {
    const error = rejection(extra ? manifest(files, extra) : manifest(files));
    expect(error.message).toMatch(/^corrupt manifest at blake3:feed in repository r: /);
    expect(error.message).toMatch(message);
  });

  it('rejects bad envelopes: not JSON, not an object, wrong version or media type, no files', () => {
    expect(rejection(Buffer.from('{"schemaVersion":')).message).toMatch(/: not valid JSON/);
    expect(rejection(Buffer.from('')).message).toMatch(/: the file is empty$/);
    expect(rejection(Buffer.from('[]')).message).toMatch(/schemaVersion: is missing/);
    expect(rejection(Buffer.from('null')).message).toMatch(/expected Object, got null/);
    expect(rejection(manifest([], { schemaVersion: 2 })).message).toMatch(/schemaVersion: expected 1, got 2/);
    expect(rejection(manifest([], { mediaType: 'application/json' })).message).toMatch(/mediaType: expected "application\/vnd\.aim\.manifest\.v1\+json", got "application\/json"/);
    expect(rejection(manifest([], { annotations: null })).message).toMatch(/annotations: expected Object, got null/);
    expect(rejection(manifest([], { files: 'x' })).message).toMatch(/files: expected Array, got "x"/);
  });

  it('collects several problems into one error', () => {
    const error = rejection(manifest([file('/abs'), { ...file('ok'), digest: 'x' }, { ...file('b'), size: 1 }]));
    expect(error.message).toMatch(/"\/abs" is absolute; files\.1\.digest: "x" is not a digest.*; files\.2: chunk sizes do not add up/);
  });

  it('unsafePathReason accepts ordinary relative paths', () => {
    for (const path of ['a', 'a/b/c.bin', '.hidden', 'a/.b', '...', 'a..b', 'model-00001-of-00002.gguf', 'x/.aimfoo']) {
      expect(unsafePathReason(path), path).toBeUndefined();
    }
  });
});
