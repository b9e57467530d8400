import { randomBytes } from 'node:crypto';
import { canList, supportsDeferredSync, type Backend } from '../../backends/backend.js';
import { refuseIndexListing } from './unlisted.js';
import { forEachConcurrently } from '../../lib/concurrently.js';
import { digestOf, type Digest } from '../format/digest.js';
import { IntegrityError, StorageError } from '../../lib/errors.js';
import { undefinedIfNotFound } from '../../lib/not-found.js';
import { MAX_CHUNK_BYTES, MAX_FOOTER_BYTES, MAX_PACK_BYTES } from '../format/schemas/limits.js';
import { corrupt, describeValue, isPackId } from '../format/schemas/parse.js';
import { INDEX_FILE_FORMAT, PACK_FOOTER_FORMAT, parseIndexFile as parseStoredIndex, parsePackFooter, type StoredEntry } from '../format/schemas/store.js';
import type { IndexCache } from './index-cache.js';
import { getBounded } from './bounded-read.js';
import { retryUntilStable } from '../../lib/poll.js';

// Packs (repository format 2): on an object store every request costs server time, latency and money, so chunks
// travel in pack objects of about 16 MiB and are read back with byte ranges, as restic's packs and Hugging Face's
// xorbs do. A pull of 2 GiB is then a few hundred ranged GETs instead of ~1,900 GETs of one chunk each.
//
//   packs/<hh>/<32 hex>   chunk bytes back to back, then a footer (JSON {chunks: [[digest, offset, size], ...]})
//                         and the footer's length as a little-endian u32: a pack describes itself, so the packs
//                         of a push killed before its index are taken back by the next (pending.ts)
//   index/<32 hex>.json   {format: 1, packs: {<pack id>: [[digest, offset, size], ...]}}: a push's shards, each
//                         naming at most 32,768 chunks (index-shards.ts); never merged or rewritten by a push
//
// Manifests do not change: they name chunks, and where a chunk lives is the index's business. A pack's id is its
// push's id and 16 random hex; index files are named at random (a pack is never deduplicated as a whole; its chunks
// are). Nothing a push does on its hot path reads every index file: it learns from location maps and key chunks
// (push-locations.ts).

export const PACK_TARGET_BYTES = 16 * 1024 * 1024;

export interface PackedChunk {
  pack: string;
  offset: number;
  size: number;
}

/**
 * Where chunks live: what pull, verify and push ask. A version's location map (locations.ts) answers for that
 * version's chunks only; the whole index (PackIndex) for every chunk the repository's index files name.
 */
export interface ChunkLocations {
  lookup(digest: Digest): PackedChunk | undefined;
  /** How many chunks it can answer for; 0 for a repository without packs. */
  readonly size: number;
}

/** One chunk of a pack: where its bytes start in the pack, and how many. */
export interface PackEntry {
  digest: Digest;
  offset: number;
  size: number;
}

/** A new pack's id: the push's 16-hex id and 16 random hex, so a later push finds a killed push's packs by prefix. */
export const newPackId = (pushId: string): string => `${pushId}${randomBytes(8).toString('hex')}`;
/** A new index file's id: 32 random hex. */
export const newIndexId = (): string => randomBytes(16).toString('hex');
/** A pack's key; an id that is not one (read from a hostile index) can never become a path. */
export function packKey(id: string): string {
  if (!isPackId(id)) throw new IntegrityError(`${describeValue(id)} is not a pack id`, { hint: 'run `aim verify` on the repository' });
  return `packs/${id.slice(0, 2)}/${id}`;
}
export const indexKey = (id: string): string => `index/${id}.json`;
export const indexIdOf = (key: string): string | undefined => /^index\/([0-9a-f]{32})\.json$/.exec(key)?.[1];

/** The footer a pack ends with; `entries` must describe the bytes before it. */
export function packFooter(entries: PackEntry[]): Buffer {
  const json = Buffer.from(JSON.stringify({ chunks: entries.map(({ digest, offset, size }) => [digest, offset, size]) }));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length);
  return Buffer.concat([json, length]);
}

const toEntries = (stored: StoredEntry[]): PackEntry[] => stored.map(([digest, offset, size]) => ({ digest, offset, size }));

/** Where each chunk of the repository's packs lives, from its index files. Empty for a repository without packs. */
export class PackIndex implements ChunkLocations {
  private readonly chunks = new Map<Digest, PackedChunk>();
  private readonly packs = new Set<string>();
  /** Index files read, by id, with the packs each names. */
  readonly files = new Map<string, Map<string, PackEntry[]>>();

  get size(): number {
    return this.chunks.size;
  }

  lookup(digest: Digest): PackedChunk | undefined {
    return this.chunks.get(digest);
  }

  hasPack(pack: string): boolean {
    return this.packs.has(pack);
  }

  add(pack: string, entries: PackEntry[]): void {
    this.packs.add(pack);
    for (const { digest, offset, size } of entries) if (!this.chunks.has(digest)) this.chunks.set(digest, { pack, offset, size });
  }

  /** The index from the repository's index files; `cache` holds copies of those read before (push and pull). */
  static async load(backend: Backend, cache?: IndexCache): Promise<PackIndex> {
    const index = new PackIndex();
    const loaded = new Map<string, Map<string, PackEntry[]>>();
    const gone = new Set<string>();
    let listed = new Set<string>();
    // Index files are replaced while others read them (a push merging them, a repair dropping chunks), always by
    // writing the new file before deleting the old. A listing is not a snapshot (a folder is read name by name),
    // so one taken during a merge can miss both the old files and the new one: the index is complete only once a
    // listing taken after every read names nothing new.
    if (!canList(backend)) refuseIndexListing(backend);
    await retryUntilStable(async () => {
      listed = new Set<string>();
      for await (const { key } of backend.list('index/')) {
        const id = indexIdOf(key);
        if (id) listed.add(id);
      }
      const ids = [...listed].filter((id) => !loaded.has(id) && !gone.has(id));
      if (ids.length === 0) return true;
      await readIndexFiles(backend, ids, loaded, gone, cache);
      return false;
    }, 9, () => new StorageError(`the index files of ${backend.location} kept changing while they were read`, { hint: 'run the command again' }));
    await cache?.keepOnly(listed);
    // In a fixed order, so that a chunk stored twice (two pushes racing) is always read from the same copy.
    for (const id of [...loaded.keys()].sort()) {
      const packs = loaded.get(id)!;
      index.files.set(id, packs);
      for (const [pack, entries] of packs) index.add(pack, entries);
    }
    return index;
  }
}

/**
 * Reads the index files `ids` into `loaded`, several at once (they are small and independent), from `cache` when it
 * has a copy that reads; notes in `gone` those deleted since they were listed.
 */
async function readIndexFiles(
  backend: Backend,
  ids: string[],
  loaded: Map<string, Map<string, PackEntry[]>>,
  gone: Set<string>,
  cache: IndexCache | undefined,
): Promise<void> {
  const where = (id: string): string => `${indexKey(id)} in ${backend.location}`;
  const read = async (id: string): Promise<void> => {
    const cached = await cache?.get(id);
    const fromCache = cached && tryParse(() => parseIndexEntries(cached, where(id)));
    if (fromCache) return void loaded.set(id, fromCache);
    const bytes = await getBounded(backend, indexKey(id), INDEX_FILE_FORMAT, where(id)).catch(undefinedIfNotFound);
    if (!bytes) return void gone.add(id);
    loaded.set(id, parseIndexEntries(bytes, where(id)));
    await cache?.put(id, bytes);
  };
  await forEachConcurrently(ids, 8, read);
}

/** What `parse` returns, or undefined when it throws: for local copies, which are fetched again when they do not read. */
export function tryParse<T>(parse: () => T): T | undefined {
  try {
    return parse();
  } catch {
    return undefined;
  }
}

/** The packs an index file names, each with its entries; `where` names the file in errors. */
export function parseIndexEntries(bytes: Buffer, where: string): Map<string, PackEntry[]> {
  return new Map(Object.entries(parseStoredIndex(bytes, where)).map(([pack, entries]) => [pack, toEntries(entries)]));
}

/** Writes an index file naming `packs`; returns its id. */
export async function writeIndexFile(backend: Backend, packs: Map<string, PackEntry[]>): Promise<string> {
  const id = newIndexId();
  const body = { format: 1, packs: Object.fromEntries([...packs].map(([pack, entries]) => [pack, entries.map((e) => [e.digest, e.offset, e.size])])) };
  await backend.putIfAbsent(indexKey(id), Buffer.from(`${JSON.stringify(body)}\n`));
  return id;
}

/** A pack's own list of its chunks, read from its footer (two ranged reads), each entry inside the pack's bytes. */
export async function readPackFooter(backend: Backend, pack: string, size: number): Promise<PackEntry[]> {
  const key = packKey(pack);
  const where = `${key} in ${backend.location}`;
  if (size < 4) throw corrupt(PACK_FOOTER_FORMAT, where, `the pack is too short (${size} bytes)`);
  const length = (await backend.getRange(key, size - 4, 4)).readUInt32LE(0);
  if (length > size - 4 || length > MAX_FOOTER_BYTES) throw corrupt(PACK_FOOTER_FORMAT, where, `a footer of ${length} bytes cannot fit the pack`);
  // The chunk area is read whole when a folder's unindexed pack is checked: no pack aim writes is past MAX_PACK_BYTES,
  // so a bigger one (a sparse file planted with a crafted footer) is refused before anything is allocated for it.
  const chunkBytes = size - 4 - length;
  if (chunkBytes > MAX_PACK_BYTES) throw corrupt(PACK_FOOTER_FORMAT, where, `${chunkBytes} bytes of chunks, more than the ${MAX_PACK_BYTES} a pack holds`);
  const footer = await backend.getRange(key, chunkBytes, length);
  return toEntries(parsePackFooter(footer, chunkBytes, where));
}

/**
 * A pack a killed push stored and no index file may name yet, read back from its own footer so the next push
 * reuses its chunks instead of sending them again (pending.ts finds such packs). On an object store the footer is
 * trusted as the pack's own record (a PUT stores an object whole or not at all, and its size is checked), so a
 * killed push of 100 GiB costs two small reads per pack, not a download. In a folder a pack is flushed to the disk
 * only before an index names it (DeferredSync): after a power cut its footer may have reached the disk and some of
 * its chunks not, so there each chunk is read and hashed, and only intact ones are taken. Undefined when the pack
 * or its footer does not read: nothing refers to it, and its chunks are sent again.
 */
export async function readIntactPack(backend: Backend, pack: string): Promise<PackEntry[] | undefined> {
  const key = packKey(pack);
  try {
    // stat, not a listing's size: it ignores the remnant of an upload some servers keep when a PUT is cut off.
    const info = await backend.stat(key);
    const listed = info && (await readPackFooter(backend, pack, info.size));
    return listed && supportsDeferredSync(backend) ? await intactEntries(backend, key, listed) : listed;
  } catch {
    return undefined;
  }
}

/**
 * The entries whose bytes hash to their digest, read in windows of at most MAX_CHUNK_BYTES (or one entry) each: a
 * planted sparse pack of 1 GiB with a footer pointing at its end is then never held whole.
 */
async function intactEntries(backend: Backend, key: string, entries: PackEntry[]): Promise<PackEntry[]> {
  const byOffset = [...entries].sort((a, b) => a.offset - b.offset);
  const intact: PackEntry[] = [];
  for (let first = 0; first < byOffset.length; ) {
    const start = byOffset[first]!.offset;
    let end = start + byOffset[first]!.size;
    let next = first + 1;
    for (; next < byOffset.length && Math.max(end, byOffset[next]!.offset + byOffset[next]!.size) - start <= MAX_CHUNK_BYTES; next++) {
      end = Math.max(end, byOffset[next]!.offset + byOffset[next]!.size);
    }
    const bytes = await backend.getRange(key, start, end - start);
    for (const entry of byOffset.slice(first, next)) {
      const at = entry.offset - start;
      if ((await digestOf(bytes.subarray(at, at + entry.size))) === entry.digest) intact.push(entry);
    }
    first = next;
  }
  return intact;
}
