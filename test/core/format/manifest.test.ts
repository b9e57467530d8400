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
    ['an absolute path', [file('/etc/passwd')], /path is absolute/],
    ['a Windows drive path', [file('C:/x')], /path is absolute/],
    ['a .. segment', [file('../evil')], /path has a "\.\." segment/],
    ['a .. segment in the middle', [file('a/../../evil')], /path has a "\.\." segment/],
    ['a . segment', [file('./a')], /path has a "\." segment/],
    ['a backslash', [file('a\\b')], /path contains a backslash/],
    ['an empty segment', [file('a//b')], /path has an empty segment/],
    ['a trailing slash', [file('a/')], /path has an empty segment/],
    ['an empty path', [file('')], /path is empty/],
    ['a NUL byte', [file('a\0b')], /NUL/],
    ['a path inside .aim', [file('.aim/state.json')], /inside \.aim/],
    ['a duplicate path', [file('a/b'), file('a/b')], /duplicate path/],
    ['a file inside a file', [file('a'), file('a/b')], /path a\/b is inside file a/],
    ['a file deep inside a file', [file('x/y/z/w'), file('x/y')], /path x\/y\/z\/w is inside file x\/y/],
    ['a bad file digest', [{ ...file('a'), digest: 'blake3:XYZ' }], /bad digest/],
    ['a sha256 file digest', [{ ...file('a'), digest: `sha256:${'0'.repeat(64)}` }], /bad digest/],
    ['a bad chunk digest', [{ ...file('a'), chunks: [{ digest: 'nope', size: 15 }] }], /bad chunk list/],
    ['a missing chunk list', [{ ...file('a'), chunks: undefined }], /bad chunk list/],
    ['chunk sizes that do not add up', [{ ...file('a'), size: 16 }], /chunk sizes do not add up/],
    ['a negative chunk size', [{ ...file('a', [20, -5]) }], /bad chunk list/],
    ['a fractional size', [{ ...file('a', [1.5]), size: 1.5 }], /bad size/],
    ['a bad mode', [{ ...file('a'), mode: 'rw' }], /bad mode/],
    ['a file that is not an object', [null], /path is empty/],
  ])('rejects %s with an IntegrityError', (_what, files, message) => {
    const error = rejection(manifest(files));
    expect(error.message).toMatch(/^manifest blake3:feed in repository r is invalid: /);
    expect(error.message).toMatch(message);
  });

  it('rejects bad envelopes: not JSON, not an object, wrong version or media type, no files', () => {
    expect(rejection(Buffer.from('{"schemaVersion":')).message).toMatch(/is not valid JSON/);
    expect(rejection(Buffer.from('[]')).message).toMatch(/files missing/);
    expect(rejection(Buffer.from('null')).message).toMatch(/not an object/);
    expect(rejection(manifest([], { schemaVersion: 2 })).message).toMatch(/unsupported schemaVersion 2/);
    expect(rejection(manifest([], { mediaType: 'application/json' })).message).toMatch(/unexpected mediaType/);
    expect(rejection(manifest([], { annotations: null })).message).toMatch(/annotations missing/);
    expect(rejection(manifest([], { files: 'x' })).message).toMatch(/files missing/);
  });

  it('collects several problems into one error', () => {
    const error = rejection(manifest([file('/abs'), { ...file('ok'), digest: 'x' }, { ...file('b'), size: 1 }]));
    expect(error.message).toMatch(/path is absolute.*bad digest.*do not add up/);
  });

  it('unsafePathReason accepts ordinary relative paths', () => {
    for (const path of ['a', 'a/b/c.bin', '.hidden', 'a/.b', '...', 'a..b', 'model-00001-of-00002.gguf', 'x/.aimfoo']) {
      expect(unsafePathReason(path), path).toBeUndefined();
    }
  });
});
