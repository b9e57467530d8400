import { ConflictError } from '../../lib/errors.js';
import type { Digest } from '../format/digest.js';
import type { Manifest } from '../format/manifest.js';
import { locationMapKey, readLocationMap } from '../store/locations.js';
import type { PackedChunk } from '../store/packs.js';
import type { Repository } from '../store/repository.js';
import { condemnedPacks, readGcRecords } from './gc-records.js';

// What a writer (push, copy) does when a gc ran while it wrote a version: see gc-records.ts for the protocol.

/** Chunks were removed while a version was written: the writer runs again, storing what is gone. */
export class RemovalRaceError extends ConflictError {}

/** One message whichever check caught the race: the writer's own (repair mark) or gc's records. */
export function removedWhileWritten(repoName: string, digest: Digest): RemovalRaceError {
  return new RemovalRaceError(`chunks were removed from ${repoName} (\`aim gc\` or \`aim verify --repair\`) while version ${digest} was written`, {
    hint: 'write it again: what was sent is kept, and only the chunks that were removed are sent again',
  });
}

/**
 * Called once the version's tag is written. When a gc record appeared since the writer started (`seen` holds the
 * keys it knew) and names a pack the version's map or the writer's own knowledge (`locate`) puts one of its chunks
 * in, or a chunk the writer cannot place, or when the version's manifest is gone: takes the map back (a rerun then writes it again) and throws a
 * RemovalRaceError. The manifest and tag stay: they name the right bytes, and the rerun stores the chunks again.
 */
export async function checkNoGcRemoved(
  repo: Repository,
  digest: Digest,
  manifest: Manifest,
  seen: ReadonlySet<string>,
  locate: (chunk: Digest) => PackedChunk | undefined,
): Promise<void> {
  const records = await readGcRecords(repo.backend, seen);
  if (records.length === 0) return;
  const condemned = condemnedPacks(records);
  const map = await readLocationMap(repo.backend, digest, manifest).catch(() => undefined);
  const hit = manifest.files.some((file) =>
    file.chunks.some(({ digest: chunk }) => {
      const relied = locate(chunk);
      const mapped = map?.lookup(chunk);
      return !relied || condemned.has(relied.pack) || (mapped !== undefined && condemned.has(mapped.pack));
    }),
  );
  // The version's own manifest gone: a gc judged it unreached before the tag was written (grace 0). The rerun
  // writes it again.
  if (!hit && (await repo.hasManifest(digest))) return;
  await repo.backend.delete(locationMapKey(digest));
  throw removedWhileWritten(repo.name, digest);
}
