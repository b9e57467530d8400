import type { Backend } from '../../backends/backend.js';
import { forEachConcurrently } from '../../lib/concurrently.js';
import { isKeyChunk, writeKeyObject } from './keys.js';
import { writeIndexFile, type PackEntry } from './packs.js';

// A push's index is written as shards: index files of at most SHARD_ENTRIES chunks, so that one a key object points
// to is cheap to read and to hold (about 3 MB), whatever the push's size. Then, for each key chunk the push stored,
// a key object naming the shard that lists it (put-if-absent: the first push to store a chunk keeps its key).

export const SHARD_ENTRIES = 32_768;
/** The most bytes a shard aim writes can take (an entry is under 100 bytes): a bigger one is read by no push. */
export const MAX_SHARD_BYTES = SHARD_ENTRIES * 128 + 64 * 1024;

/** `packs` in groups of at most SHARD_ENTRIES chunks; a pack is split only when it alone names more. */
export function shardsOf(packs: Map<string, PackEntry[]>): Array<Map<string, PackEntry[]>> {
  const shards: Array<Map<string, PackEntry[]>> = [];
  let current = new Map<string, PackEntry[]>();
  let size = 0;
  const add = (pack: string, entries: PackEntry[]): void => {
    if (size > 0 && size + entries.length > SHARD_ENTRIES) {
      shards.push(current);
      current = new Map();
      size = 0;
    }
    current.set(pack, [...(current.get(pack) ?? []), ...entries]);
    size += entries.length;
  };
  for (const [pack, entries] of packs) {
    for (let start = 0; start < entries.length; start += SHARD_ENTRIES) add(pack, entries.slice(start, start + SHARD_ENTRIES));
  }
  if (size > 0) shards.push(current);
  return shards;
}

/** Writes `packs` as shards; returns each shard's id with the packs it names. */
export async function writeIndexShards(backend: Backend, packs: Map<string, PackEntry[]>): Promise<Array<{ id: string; packs: Map<string, PackEntry[]> }>> {
  const written: Array<{ id: string; packs: Map<string, PackEntry[]> }> = [];
  await forEachConcurrently(shardsOf(packs), 4, async (shard) => {
    written.push({ id: await writeIndexFile(backend, shard), packs: shard });
  });
  return written;
}

/**
 * Writes the key object of each key chunk the shards name, once every shard is stored. Best effort: a key object is
 * only a lead for later pushes, so one that cannot be written (a link or a folder planted at its key) costs that
 * dedupe, not this push.
 */
export async function writeKeyObjects(backend: Backend, shards: Array<{ id: string; packs: Map<string, PackEntry[]> }>): Promise<void> {
  const keys: Array<{ digest: PackEntry['digest']; shard: string }> = [];
  for (const { id, packs } of shards) {
    for (const entries of packs.values()) for (const { digest } of entries) if (isKeyChunk(digest)) keys.push({ digest, shard: id });
  }
  await forEachConcurrently(keys, 8, ({ digest, shard }) => writeKeyObject(backend, digest, shard).catch(() => false));
}
