import { canList, type Backend } from '../../backends/backend.js';
import { refuseIndexListing } from './unlisted.js';
import { StorageError } from '../../lib/errors.js';
import { undefinedIfNotFound } from '../../lib/not-found.js';
import { retryUntilStable } from '../../lib/poll.js';
import type { Digest } from '../format/digest.js';
import { INDEX_FILE_FORMAT, parseIndexFile } from '../format/schemas/store.js';
import { getBounded } from './bounded-read.js';
import { isKeyChunk } from './keys.js';
import { indexIdOf, indexKey, type PackedChunk } from './packs.js';

// One pass over every index file that keeps only what it was asked for, so that a repository-wide command (`aim repo
// upgrade`) holds one index file at a time and the answers, not the whole index: in a repository naming 20 million
// chunks the whole index is several GiB of memory.

export interface IndexScan {
  /** The index files the last listing named. */
  files: Set<string>;
  /** Where each wanted chunk is (the first file, by id, that lists it). */
  located: Map<Digest, PackedChunk>;
  /** Each key chunk's first index file (by id) among those still listed. */
  keyShards: Map<Digest, string>;
}

async function learnFrom(backend: Backend, id: string, wanted: ReadonlySet<Digest>, scan: IndexScan): Promise<void> {
  const where = `${indexKey(id)} in ${backend.location}`;
  const bytes = await getBounded(backend, indexKey(id), INDEX_FILE_FORMAT, where).catch(undefinedIfNotFound);
  if (!bytes) return; // replaced since it was listed: a later listing names the file that replaced it
  for (const [pack, entries] of Object.entries(parseIndexFile(bytes, where))) {
    for (const [digest, offset, size] of entries) {
      if (wanted.has(digest) && !scan.located.has(digest)) scan.located.set(digest, { pack, offset, size });
      if (!isKeyChunk(digest)) continue;
      // A file replaced since it was read no longer counts: the one that replaced it names the chunk now.
      const known = scan.keyShards.get(digest);
      if (!known || !scan.files.has(known)) scan.keyShards.set(digest, id);
    }
  }
}

/**
 * Reads the index files one at a time, in order of id, learning where the `wanted` chunks are and which file names
 * each key chunk. Index files are replaced while others read them (always new before old), and a listing is not a
 * snapshot, so the listing is taken again until it names nothing unread (as PackIndex.load does).
 */
export async function scanIndex(backend: Backend, wanted: ReadonlySet<Digest>): Promise<IndexScan> {
  const scan: IndexScan = { files: new Set(), located: new Map(), keyShards: new Map() };
  if (!canList(backend)) refuseIndexListing(backend);
  const read = new Set<string>();
  await retryUntilStable(async () => {
    scan.files = new Set();
    for await (const { key } of backend.list('index/')) {
      const id = indexIdOf(key);
      if (id) scan.files.add(id);
    }
    const fresh = [...scan.files].filter((id) => !read.has(id)).sort();
    for (const id of fresh) {
      read.add(id);
      await learnFrom(backend, id, wanted, scan);
    }
    return fresh.length === 0;
  }, 9, () => new StorageError(`the index files of ${backend.location} kept changing while they were read`, { hint: 'run the command again' }));
  for (const [digest, id] of scan.keyShards) if (!scan.files.has(id)) scan.keyShards.delete(digest);
  return scan;
}
