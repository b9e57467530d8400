import { forEachConcurrently } from '../../lib/concurrently.js';
import { StorageError } from '../../lib/errors.js';
import type { Digest } from '../format/digest.js';
import type { Manifest } from '../format/manifest.js';
import { modelNames, readableTags, type RepoProblem } from '../store/model-listing.js';
import type { Repository } from '../store/repository.js';
import { bundleMembers } from '../store/bundle-catalog.js';

// What gc keeps: every version a root reaches, and every chunk such a version names. Roots are the tags of every
// model and the manifests younger than the grace period (a push that wrote its manifest and not yet its tag).
// A bundle's members are roots too, whether or not a tag of their own still names them.

export interface Roots {
  /** Each version a root reaches, with its manifest. */
  versions: Map<Digest, Manifest>;
  /** Tags and models that do not read: gc will not remove anything while one may name a version. */
  problems: RepoProblem[];
}

/** The versions the repository's tags name (`young`: manifests too new for gc to judge, kept as roots). */
export async function rootsOf(repository: Repository, young: Iterable<Digest> = []): Promise<Roots> {
  const problems: RepoProblem[] = [];
  const tagged = new Set<Digest>();
  for (const model of await modelNames(repository, problems)) {
    for (const tag of await readableTags(repository, model, problems)) tagged.add(tag.digest);
  }
  for (const member of await bundleMembers(repository, problems)) tagged.add(member.digest);
  const versions = new Map<Digest, Manifest>();
  // A young manifest that does not read names nothing anyone can pull: it is kept, and costs no problem.
  const digests = new Set([...tagged, ...young]);
  await forEachConcurrently(digests, 8, async (digest) => {
    try {
      versions.set(digest, await repository.getManifest(digest));
    } catch (error) {
      if (error instanceof StorageError) throw error; // out of reach is not "does not read": nothing can be judged
      if (!tagged.has(digest)) return;
      problems.push({ key: `manifest ${digest}`, message: error instanceof Error ? error.message : String(error) });
    }
  });
  return { versions, problems };
}

/** Every chunk the versions name, with its size. */
export function liveChunks(versions: Iterable<Manifest>): Map<Digest, number> {
  const live = new Map<Digest, number>();
  for (const manifest of versions) for (const file of manifest.files) for (const chunk of file.chunks) live.set(chunk.digest, chunk.size);
  return live;
}
