// The one path rule (src/core/format/paths.ts): examples, then properties on 10,000 generated paths each. An
// independent, deliberately plain statement of "unsafe" is the oracle; the rule may refuse more (overlong names,
// .aim/), never less. Push and pull agree: the walk of a real folder accepts exactly the names a manifest may hold.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANIFEST_MEDIA_TYPE, parseManifest } from '../../../src/core/format/manifest.js';
import { MAX_PATH_BYTES, MAX_SEGMENT_BYTES, unsafePathReason, unsafePatternReason } from '../../../src/core/format/paths.js';
import { walkSource } from '../../../src/core/transfer/walk.js';
import { AimError } from '../../../src/lib/errors.js';

const DIGEST = `blake3:${'0'.repeat(64)}`;

/** What pull does with a path: parse a manifest holding it. True when the manifest is accepted. */
function pullAccepts(path: string): boolean {
  const file = { path, size: 1, mode: 0o644, digest: DIGEST, chunks: [{ digest: DIGEST, size: 1 }] };
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 1, mediaType: MANIFEST_MEDIA_TYPE, files: [file], annotations: {} }));
  try {
    parseManifest(bytes, 'generated');
    return true;
  } catch (error) {
    expect(error).toBeInstanceOf(AimError);
    return false;
  }
}

/** The classes of unsafe path the issue names, stated without the rule's code. */
function plainlyUnsafe(path: string): boolean {
  const segments = path.split('/');
  return (
    path === '' ||
    path.startsWith('/') ||
    /^[A-Za-z]:/.test(path) ||
    path.includes('\\') ||
    [...path].some((c) => c.charCodeAt(0) < 0x20 || (c.charCodeAt(0) >= 0x7f && c.charCodeAt(0) <= 0x9f)) ||
    segments.some((segment) => segment === '' || segment === '.' || segment === '..')
  );
}

// Segments biased towards the dangerous: traversal, separators, control characters, escape sequences, Unicode
// tricks, drive letters; plus arbitrary strings of any code unit.
const segment = fc.oneof(
  fc.constantFrom('', '.', '..', '...', 'a', 'b.bin', '.aim', '\\', 'a\\..', 'C:', 'c:x', '\n', '\r', '\t', '\0', '\x1b[31m', '\x7f', '\x9b', '\u202e', '\ud800', 'é', '日本'),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 12 }),
);
const generatedPath = fc.oneof(
  fc.array(segment, { minLength: 1, maxLength: 6 }).map((parts) => parts.join('/')),
  fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => `/${parts.join('/')}`),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

describe('the path rule', () => {
  it.each([
    ['model.safetensors'],
    ['weights/part-00001-of-00002.gguf'],
    ['.hidden/config.json'],
    ['a/.aim/inside-a-subfolder-is-fine'],
    ['名前/ファイル.bin'],
    ['x'.repeat(MAX_SEGMENT_BYTES)],
  ])('accepts %s', (path) => {
    expect(unsafePathReason(path)).toBeUndefined();
    expect(pullAccepts(path)).toBe(true);
  });

  it.each([
    ['', /is empty/],
    ['/etc/passwd', /is absolute/],
    ['C:/Windows', /is absolute/],
    ['../escape', /"\.\." segment/],
    ['a/../../escape', /"\.\." segment/],
    ['./a', /"\." segment/],
    ['a//b', /empty segment/],
    ['a/', /empty segment/],
    ['back\\slash', /backslash/],
    ['new\nline', /control character/],
    ['carriage\rreturn', /control character/],
    ['esc\x1b[2Jape', /control character/],
    ['c1\x9bcsi', /control character/],
    ['nul\0byte', /NUL/],
    ['half\ud800surrogate', /not valid Unicode/],
    ['x'.repeat(MAX_SEGMENT_BYTES + 1), /segment longer than 255 bytes/],
    ['é'.repeat(128), /segment longer than 255 bytes/], // 256 bytes in UTF-8, 128 characters
    [Array.from({ length: 20 }, () => 'd'.repeat(250)).join('/'), /longer than 1024 bytes/],
    ['.aim', /inside \.aim/],
    ['.aim/state.json', /inside \.aim/],
  ])('refuses %j', (path, reason) => {
    expect(unsafePathReason(path)).toMatch(reason);
    expect(pullAccepts(path)).toBe(false);
  });

  it('refuses include/exclude patterns that could leave the folder, and keeps ordinary ones', () => {
    for (const pattern of ['../*', '../../etc/**', 'a/../../b', '/etc/**', 'C:/x', '..\\x', '']) expect(unsafePatternReason(pattern), pattern).toBeDefined();
    for (const pattern of ['*.gguf', '**/*.safetensors', 'weights/**', '.hidden/*', '{a,b}/*.bin', '..foo/*']) expect(unsafePatternReason(pattern), pattern).toBeUndefined();
  });

  it('never accepts an unsafe path, and pull accepts exactly what the rule accepts (10,000 paths)', () => {
    fc.assert(
      fc.property(generatedPath, (path) => {
        const reason = unsafePathReason(path);
        if (plainlyUnsafe(path)) expect(reason).toBeDefined();
        expect(pullAccepts(path)).toBe(reason === undefined);
        if (reason === undefined) {
          // What the rule accepts stays below the destination and means the same path once written.
          expect(posix.normalize(path)).toBe(path);
          expect(posix.resolve('/dest', path).startsWith('/dest/')).toBe(true);
          expect(Buffer.byteLength(path)).toBeLessThanOrEqual(MAX_PATH_BYTES);
        }
      }),
      { numRuns: 10_000 },
    );
  });
});

describe('push and pull agree on real file names', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aim-paths-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  // A file system name is one segment without `/` or NUL; each run pushes a folder holding one such file next to an
  // ordinary one. The walk (push) must accept the folder exactly when a manifest holding that name (pull) is valid.
  const fileName = fc.oneof(
    fc.constantFrom('..a', 'a\\b', 'new\nline', 'esc\x1b[31m', 'c1\x9b', 'tab\t', '\u202eevil', '.aim', 'é', 'plain.bin'),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }),
  ).filter((name) => !name.includes('/') && !name.includes('\0') && name !== '.' && name !== '..' && Buffer.byteLength(name) <= 255);

  it('walkSource refuses a folder exactly when pull would refuse one of its names (300 folders)', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fileName, async (name) => {
        const folder = join(dir, String(run++));
        await mkdir(folder);
        await writeFile(join(folder, 'ok.bin'), 'ok');
        await writeFile(join(folder, name), 'x');
        const pushed = await walkSource(folder).then(
          (result) => result.files.map((f) => f.path),
          (error: unknown) => {
            expect(error).toBeInstanceOf(AimError);
            return undefined;
          },
        );
        expect(pushed !== undefined, JSON.stringify(name)).toBe(pullAccepts(name));
        if (pushed) expect(pushed).toContain(name);
      }),
      { numRuns: 300 },
    );
  });
});
