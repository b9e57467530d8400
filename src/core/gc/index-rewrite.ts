import type { Backend } from '../../backends/backend.js';
import type { Digest } from '../format/digest.js';
import { isKeyChunk, keyObjectBody, keyObjectKey, readKeyObject } from '../store/keys.js';
import { indexKey, writeIndexFile, type PackEntry, type PackIndex } from '../store/packs.js';

// Index files naming packs gc removes are replaced, as a repair replaces them: the new file (the same packs but
// those) is written before the old one is deleted, so a crash in between leaves two files that read the same. Key
// objects naming an old file are pointed, before it goes, at a file that still names their chunk: the replacement,
// or the shard of the new pack the chunk was copied to; a key whose chunk is gone is deleted. None is left to fall
// back on a missing file (which a push would survive, at the cost of that dedupe).

/**
 * Replaces the index files `ids` by files without the packs in `removed`; `shards` are the index files of the packs
 * gc wrote. Returns how many key objects were rewritten or deleted.
 */
export async function replaceIndexFiles(
  backend: Backend,
  index: PackIndex,
  ids: string[],
  removed: ReadonlySet<string>,
  shards: Array<{ id: string; packs: Map<string, PackEntry[]> }>,
): Promise<number> {
  const copiedTo = new Map<Digest, string>();
  for (const shard of shards) for (const entries of shard.packs.values()) for (const { digest } of entries) copiedTo.set(digest, shard.id);
  let keysFixed = 0;
  for (const id of ids) {
    const packs = index.files.get(id);
    if (!packs) continue;
    const kept = new Map([...packs].filter(([pack]) => !removed.has(pack)));
    const replacement = kept.size > 0 ? await writeIndexFile(backend, kept) : undefined;
    const stillNamed = new Set([...kept.values()].flatMap((entries) => entries.map((e) => e.digest)));
    for (const entries of packs.values()) {
      for (const { digest } of entries) {
        if (!isKeyChunk(digest) || (await readKeyObject(backend, digest).catch(() => undefined)) !== id) continue;
        const target = stillNamed.has(digest) ? replacement : copiedTo.get(digest);
        if (target) await backend.put(keyObjectKey(digest), keyObjectBody(target));
        else await backend.delete(keyObjectKey(digest));
        keysFixed++;
      }
    }
    await backend.delete(indexKey(id));
  }
  return keysFixed;
}
