import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../../src/backends/local.js';
import { DEFAULT_CHUNKING } from '../../../src/core/chunking/chunker.js';
import { digestFromHex, type Digest } from '../../../src/core/format/digest.js';
import { MANIFEST_MEDIA_TYPE, type Manifest } from '../../../src/core/format/manifest.js';
import { dropLocationMapsNaming, locationMapKey, readLocationMap, VersionLocations, writeLocationMap } from '../../../src/core/store/locations.js';
import { PackIndex, type PackedChunk } from '../../../src/core/store/packs.js';
import { Repository } from '../../../src/core/store/repository.js';
import { IntegrityError } from '../../../src/lib/errors.js';

const folders: string[] = [];
afterEach(async () => Promise.all(folders.splice(0).map((f) => rm(f, { recursive: true, force: true }))));

async function store(): Promise<{ root: string; backend: LocalBackend }> {
  const root = await mkdtemp(join(tmpdir(), 'aim-locations-'));
  folders.push(root);
  return { root, backend: new LocalBackend(root) };
}

const digest = (n: number): Digest => digestFromHex(n.toString(16).padStart(64, '0'));
const PACK = 'a'.repeat(32);

/** A version of three chunks (one used twice) of 10, 20 and 30 bytes. */
function version(tag = 'x'): { manifest: Manifest; digest: Digest; where: Map<Digest, PackedChunk> } {
  const chunks = [1, 2, 3].map((n) => ({ digest: digest(n), size: n * 10 }));
  const manifest: Manifest = {
    schemaVersion: 1,
    mediaType: MANIFEST_MEDIA_TYPE,
    files: [
      { path: 'a', size: 30, mode: 0o644, digest: digest(100), chunks: chunks.slice(0, 2) },
      { path: 'b', size: 60, mode: 0o644, digest: digest(101), chunks: [chunks[2]!, chunks[2]!] },
    ],
    annotations: { tag },
  };
  let offset = 0;
  const where = new Map(chunks.map(({ digest: d, size }) => [d, { pack: PACK, offset: (offset += size) - size, size }]));
  return { manifest, digest: digest(tag === 'x' ? 200 : 201), where };
}

describe('location maps', () => {
  it('are written from where the chunks are and read back; a version without one reads as undefined', async () => {
    const { backend } = await store();
    const { manifest, digest: id, where } = version();
    expect(await readLocationMap(backend, id, manifest)).toBeUndefined();
    expect(await writeLocationMap(backend, id, manifest, (d) => where.get(d))).toBe(true);
    const map = await readLocationMap(backend, id, manifest);
    expect(map).toBeInstanceOf(VersionLocations);
    expect(map!.size).toBe(3);
    for (const [d, at] of where) expect(map!.lookup(d)).toEqual(at);
    expect(locationMapKey(id)).toBe(`locations/00/${id.slice(7)}.json`);
  });

  it('is not written when one chunk is not located, or located at another size', async () => {
    const { root, backend } = await store();
    const { manifest, digest: id, where } = version();
    expect(await writeLocationMap(backend, id, manifest, (d) => (d === digest(2) ? undefined : where.get(d)))).toBe(false);
    expect(await writeLocationMap(backend, id, manifest, (d) => ({ ...where.get(d)!, size: 5 }))).toBe(false);
    expect(await readdir(root)).toEqual([]);
  });

  it('a map that is damaged, hostile, for another version or incomplete is refused with the file named', async () => {
    const { root, backend } = await store();
    const { manifest, digest: id } = version();
    const file = join(root, locationMapKey(id));
    await mkdir(join(file, '..'), { recursive: true });
    const entries = [[digest(1), 0, 10], [digest(2), 10, 20], [digest(3), 30, 30]];
    for (const [body, why] of [
      ['not json', /not valid JSON/],
      [{ format: 2, manifest: id, packs: {} }, /format: .*2/],
      [{ format: 1, manifest: digest(999), packs: { [PACK]: entries } }, /it names version blake3:0+3e7$/],
      [{ format: 1, manifest: id, packs: { '../../../etc/passwd': entries } }, /is not a pack id/],
      [{ format: 1, manifest: id, packs: { [PACK]: [...entries, [digest(4), 60, 10]] } }, /blake3:0+4 \(10 bytes\) is not a chunk of the version/],
      [{ format: 1, manifest: id, packs: { [PACK]: [[digest(1), 0, 11], ...entries.slice(1)] } }, /blake3:0+1 \(11 bytes\) is not a chunk of the version/],
      [{ format: 1, manifest: id, packs: { [PACK]: entries.slice(0, 2) } }, /it locates 2 of the version's 3 chunks/],
      [{ format: 1, manifest: id, packs: { [PACK]: [[digest(1), 2 ** 40, 10]] } }, /lies past the end of its pack/],
      ['x'.repeat(200_000), /200000 bytes, more than the 66016 such a file can hold/],
    ] as const) {
      await writeFile(file, typeof body === 'string' ? body : JSON.stringify(body));
      const error = await readLocationMap(backend, id, manifest).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IntegrityError);
      expect((error as Error).message).toMatch(new RegExp(`^corrupt location map at ${locationMapKey(id)} in ${root}: `));
      expect((error as Error).message).toMatch(why);
    }
  });

  it('a repository reads the whole index for a version whose map is missing or damaged, saying why in one line', async () => {
    const { root, backend } = await store();
    await writeFile(join(root, 'aim-repo.json'), JSON.stringify({ format: 2, hash: 'blake3', chunking: DEFAULT_CHUNKING, createdAt: '2026-01-01T00:00:00Z' }));
    const repo = new Repository('r', backend);
    const { manifest, digest: id, where } = version();
    const notes: string[] = [];
    expect(await repo.locationsFor(id, manifest, (why) => notes.push(why))).toBeInstanceOf(PackIndex);
    expect(notes).toEqual([`version ${id} has no location map: reading the whole index (\`aim repo upgrade r\` writes one)`]);
    await writeLocationMap(backend, id, manifest, (d) => where.get(d));
    expect(await repo.locationsFor(id, manifest, (why) => notes.push(why))).toBeInstanceOf(VersionLocations);
    expect(notes).toHaveLength(1);
    await writeFile(join(root, locationMapKey(id)), '[]');
    expect(await new Repository('r', backend).locationsFor(id, manifest, (why) => notes.push(why))).toBeInstanceOf(PackIndex);
    expect(notes[1]).toMatch(/^corrupt location map at locations\/00\/0+c8\.json in .*; reading the whole index instead$/);
    expect(notes).toHaveLength(2);
  });

  it('a removal deletes the maps naming a removed chunk and leaves the others, and damaged ones, alone', async () => {
    const { root, backend } = await store();
    const x = version('x');
    const y = version('y');
    y.manifest.files = y.manifest.files.slice(1); // chunk 3 only
    await writeLocationMap(backend, x.digest, x.manifest, (d) => x.where.get(d));
    await writeLocationMap(backend, y.digest, y.manifest, (d) => y.where.get(d));
    const damaged = join(root, 'locations', 'ff', `${'f'.repeat(64)}.json`);
    await mkdir(join(damaged, '..'), { recursive: true });
    await writeFile(damaged, 'garbage');

    expect(await dropLocationMapsNaming(backend, new Set([digest(9)]))).toBe(0);
    expect(await dropLocationMapsNaming(backend, new Set([digest(2)]))).toBe(1);
    expect(await readLocationMap(backend, x.digest, x.manifest)).toBeUndefined();
    expect(await readLocationMap(backend, y.digest, y.manifest)).toBeInstanceOf(VersionLocations);
    expect(await dropLocationMapsNaming(backend, new Set([digest(3)]))).toBe(1);
    expect(await readdir(join(root, 'locations', 'ff'))).toEqual([`${'f'.repeat(64)}.json`]);
  });
});
