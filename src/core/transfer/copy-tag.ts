import { ConflictError, NotFoundError } from '../../lib/errors.js';
import type { Digest } from '../format/digest.js';
import { deleteVersion, type DeleteResult } from '../store/delete.js';
import { refreshIndex } from '../store/repo-index.js';
import type { Repository, TagRecord } from '../store/repository.js';
import { resolveVersion, type VersionSelector } from '../store/resolve.js';
import { writeTag, type TagOutcome } from '../store/tags.js';

// aim tag / untag: a second name for a version, or one name fewer, with no data moved. A tag is written with the
// compare-and-swap a push uses (tags.ts): a tag naming other content is refused unless forced, and of two writers
// racing to create it exactly one wins. `latest` is left where it is, as `docker tag` and `git tag` leave HEAD.

export interface TagResult {
  repo: string;
  model: string;
  tag: string;
  digest: Digest;
  outcome: TagOutcome;
}

export async function tagVersion(repo: Repository, source: VersionSelector, target: { model: string; tag: string }, force: boolean): Promise<TagResult> {
  const { digest, manifest } = await resolveVersion(repo, source);
  const size = manifest.files.reduce((sum, file) => sum + file.size, 0);
  const record = { digest, pushedAt: new Date().toISOString(), size, files: manifest.files.length };
  const outcome = await writeTagAgainstRacers(repo, target, record, force);
  // A version no tag named may have been removed by a gc meanwhile: a tag must not name a manifest that is gone.
  if (!(await repo.hasManifest(digest))) {
    await repo.deleteTag(target.model, target.tag);
    throw new NotFoundError(`version ${digest} was removed from ${repo.name} (aim gc) while it was tagged`, { hint: 'push it again, then tag it' });
  }
  await refreshIndex(repo, target.model);
  return { repo: repo.name, model: target.model, tag: target.tag, digest, outcome };
}

/**
 * A compare-and-swap lost to another writer is decided again against what that writer wrote: the same version is
 * then "unchanged", another one refused (unless forced) as any tag naming other content.
 */
async function writeTagAgainstRacers(repo: Repository, target: { model: string; tag: string }, record: TagRecord, force: boolean): Promise<TagOutcome> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await writeTag(repo, target.model, target.tag, record, force);
    } catch (error) {
      if (!(error instanceof ConflictError) || !/changed by another writer/.test(error.message) || attempt === 3) throw error;
    }
  }
}

/** Removes one tag (moving `latest` off the version if it named it), as `aim model delete-version`. */
export function untagVersion(repo: Repository, model: string, tag: string): Promise<DeleteResult> {
  return deleteVersion(repo, model, tag);
}
