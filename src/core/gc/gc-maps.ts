import type { Backend } from '../../backends/backend.js';
import { forEachConcurrently } from '../../lib/concurrently.js';
import type { Digest } from '../format/digest.js';
import type { Manifest } from '../format/manifest.js';
import { locationMapKey, readLocationMap, writeLocationMap } from '../store/locations.js';
import type { PackedChunk } from '../store/packs.js';

// Location maps of the versions gc keeps must name only packs that stay: each map naming a pack that goes (or
// that does not read) is written again from where the chunks are after the repack, before any pack is deleted.

export interface MapChanges {
  rewritten: number;
  deleted: number;
}

/**
 * Rewrites the map of every kept version in `versions` that has one (`mapped`) naming a pack in `removed`; deletes
 * the maps in `dead`. A version whose chunk cannot be placed loses its map (pulls then read the whole index).
 */
export async function fixLocationMaps(
  backend: Backend,
  versions: Map<Digest, Manifest>,
  mapped: ReadonlySet<Digest>,
  removed: ReadonlySet<string>,
  locate: (chunk: Digest) => PackedChunk | undefined,
  dead: Digest[],
): Promise<MapChanges> {
  const changes: MapChanges = { rewritten: 0, deleted: 0 };
  const kept = [...versions].filter(([digest]) => mapped.has(digest));
  await forEachConcurrently(kept, 8, async ([digest, manifest]) => {
    const map = await readLocationMap(backend, digest, manifest).catch(() => undefined);
    const stays = map && manifest.files.every((file) => file.chunks.every((chunk) => !removed.has(map.lookup(chunk.digest)!.pack)));
    if (stays) return;
    if (await writeLocationMap(backend, digest, manifest, locate)) changes.rewritten++;
    else {
      await backend.delete(locationMapKey(digest));
      changes.deleted++;
    }
  });
  await forEachConcurrently(dead, 8, async (digest) => {
    await backend.delete(locationMapKey(digest));
    changes.deleted++;
  });
  return changes;
}
