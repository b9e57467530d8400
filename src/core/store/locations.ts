import type { Backend } from '../../backends/backend.js';
import { forEachConcurrently } from '../../lib/concurrently.js';
import { IntegrityError } from '../../lib/errors.js';
import { undefinedIfNotFound } from '../../lib/not-found.js';
import { digestHex, type Digest } from '../format/digest.js';
import type { Manifest } from '../format/manifest.js';
import type * as v from 'valibot';
import { isPlainLocationMap } from '../format/location-map-plain.js';
import { corrupt, parseJson, parseJsonText, parseValue } from '../format/schemas/parse.js';
import { LOCATION_MAP_FORMAT, locationMapSchema } from '../format/schemas/store.js';
import { getBounded } from './bounded-read.js';
import type { ChunkLocations, PackedChunk, PackEntry } from './packs.js';

// A version's location map: where each of its chunks lives, written by the push that committed it, before its
// manifest. Pull, run and verify of one version read its manifest and this map and nothing else of the index, so
// what they read and hold follows the version's size, not the repository's (Hugging Face's Xet stores each file's
// reconstruction beside it for the same reason).
//
//   locations/<hh>/<manifest hex>.json   {format: 1, manifest: <digest>, packs: {<pack id>: [[digest, offset, size], ...]}}
//
// The map is derived data: the manifest stays the truth about the version's bytes, and every chunk read through the
// map is checked against its digest as before. A map that is missing, damaged, names another version or a chunk the
// version lacks, or leaves a chunk out, is not used: the reader falls back to the whole index. A repair that drops
// chunks from the index deletes the maps naming them (dropLocationMapsNaming); a later push of the same version, or
// `aim repo upgrade`, writes the map again (put, not put-if-absent).

export const locationMapKey = (manifest: Digest): string => `locations/${digestHex(manifest).slice(0, 2)}/${digestHex(manifest)}.json`;

/** A version's chunks and where they are. */
export class VersionLocations implements ChunkLocations {
  constructor(private readonly chunks: ReadonlyMap<Digest, PackedChunk>) {}

  get size(): number {
    return this.chunks.size;
  }

  lookup(digest: Digest): PackedChunk | undefined {
    return this.chunks.get(digest);
  }
}

/** The manifest's chunks with their sizes (one digest, one size: parseManifest and verify hold manifests to it). */
function chunkSizes(manifest: Manifest): Map<Digest, number> {
  const sizes = new Map<Digest, number>();
  const files = manifest.files;
  // Indexed: one step per file and chunk of the version, run once before the JIT has optimised it.
  for (let index = 0; index < files.length; index++) {
    const chunks = files[index]!.chunks;
    for (let at = 0; at < chunks.length; at++) sizes.set(chunks[at]!.digest, chunks[at]!.size);
  }
  return sizes;
}

/**
 * The map of `manifest` (whose digest is `digest`), or undefined when there is none. Throws the format's "corrupt"
 * error when it does not read, names another version, names a chunk the version does not have or at another size,
 * or leaves out one of the version's chunks.
 */
export async function readLocationMap(backend: Backend, digest: Digest, manifest: Manifest): Promise<VersionLocations | undefined> {
  const key = locationMapKey(digest);
  const where = `${key} in ${backend.location}`;
  const sizes = chunkSizes(manifest);
  // Bounded by the version it describes: an entry and its share of pack ids is under 160 bytes.
  const format = { ...LOCATION_MAP_FORMAT, maxBytes: Math.min(LOCATION_MAP_FORMAT.maxBytes, 64 * 1024 + sizes.size * 160) };
  const bytes = await getBounded(backend, key, format, where).catch(undefinedIfNotFound);
  if (!bytes) return undefined;
  const value = parseJsonText(bytes, format, where);
  // A map as push wrote it is taken as it is (location-map-plain.ts); the schema checks any other and names its faults.
  const map = isPlainLocationMap(value, sizes) ? (value as v.InferOutput<typeof locationMapSchema>) : parseValue(locationMapSchema, value, format, where);
  if (map.manifest !== digest) throw corrupt(format, where, `it names version ${map.manifest}`);
  const chunks = new Map<Digest, PackedChunk>();
  for (const [pack, entries] of Object.entries(map.packs)) {
    // Indexed, not destructured: an entry per chunk, run once, before the JIT has optimised it.
    for (let index = 0; index < entries.length; index++) {
      const entry = entries[index]!;
      const chunk = entry[0];
      const offset = entry[1];
      const size = entry[2];
      if (sizes.get(chunk) !== size) throw corrupt(format, where, `${chunk} (${size} bytes) is not a chunk of the version`);
      if (!chunks.has(chunk)) chunks.set(chunk, { pack, offset, size });
    }
  }
  if (chunks.size !== sizes.size) throw corrupt(format, where, `it locates ${chunks.size} of the version's ${sizes.size} chunks`);
  return new VersionLocations(chunks);
}

/**
 * Writes the map of `manifest` from `locate`, once every chunk it names is stored and indexed and before the
 * manifest. Returns false, writing nothing, when `locate` does not know where one of its chunks is.
 */
export async function writeLocationMap(
  backend: Backend,
  digest: Digest,
  manifest: Manifest,
  locate: (digest: Digest) => PackedChunk | undefined,
): Promise<boolean> {
  const packs = new Map<string, PackEntry[]>();
  for (const [chunk, size] of chunkSizes(manifest)) {
    const at = locate(chunk);
    if (at?.size !== size) return false;
    const entries = packs.get(at.pack) ?? [];
    entries.push({ digest: chunk, offset: at.offset, size });
    packs.set(at.pack, entries);
  }
  const body = {
    format: 1,
    manifest: digest,
    packs: Object.fromEntries([...packs].map(([pack, entries]) => [pack, entries.sort((a, b) => a.offset - b.offset).map((e) => [e.digest, e.offset, e.size])])),
  };
  await backend.put(locationMapKey(digest), Buffer.from(`${JSON.stringify(body)}\n`));
  return true;
}

/** undefined for a map that is gone or does not read; any other failure (a store out of reach) is thrown. */
function unlessDamaged(error: unknown): undefined {
  if (error instanceof IntegrityError) return undefined;
  return undefinedIfNotFound(error);
}

const mapKeyPattern = /^locations\/[0-9a-f]{2}\/[0-9a-f]{64}\.json$/;

/**
 * Deletes every location map that names one of `dropped` (chunks a repair removed from the index), so that pulls of
 * those versions read the index instead of the dropped copies until a push of a good copy maps them again. Returns
 * how many were deleted. A map that does not read is left alone: no reader trusts it.
 */
export async function dropLocationMapsNaming(backend: Backend, dropped: ReadonlySet<Digest>): Promise<number> {
  if (dropped.size === 0) return 0;
  const keys: string[] = [];
  for await (const { key } of backend.list('locations/')) if (mapKeyPattern.test(key)) keys.push(key);
  let deleted = 0;
  await forEachConcurrently(keys, 8, async (key) => {
    const where = `${key} in ${backend.location}`;
    const map = await getBounded(backend, key, LOCATION_MAP_FORMAT, where)
      .then((bytes) => parseJson(locationMapSchema, bytes, LOCATION_MAP_FORMAT, where))
      .catch(unlessDamaged);
    if (!map || !Object.values(map.packs).some((entries) => entries.some(([chunk]) => dropped.has(chunk)))) return;
    await backend.delete(key);
    deleted++;
  });
  return deleted;
}
