import { NotFoundError, StorageError } from '../../lib/errors.js';
import { DEFAULT_TAG } from '../format/reference.js';
import { readableTags, tagNames, type RepoProblem } from './model-listing.js';
import type { Repository, TagRecord } from './repository.js';
import { refreshIndex } from './repo-index.js';

// Deleting removes tags only. Manifests and chunks may be shared with other versions and models; they become
// unreferenced and stay until a garbage collector (`aim gc`, to come) removes what no tag reaches. That keeps a
// delete safe while another push is running. A tag that does not read back is deleted all the same: removing
// it is how a user gets rid of it.

export interface DeleteResult {
  deleted: string[];
  problems: RepoProblem[];
}

/** The tag's record, or undefined when it is missing; `unreadable` when it exists but does not parse. */
async function tagRecord(repo: Repository, model: string, tag: string): Promise<TagRecord | undefined | 'unreadable'> {
  try {
    return await repo.getTag(model, tag);
  } catch (error) {
    if (error instanceof StorageError) throw error;
    return 'unreadable';
  }
}

export async function deleteVersion(repo: Repository, model: string, tag: string): Promise<DeleteResult> {
  const record = await tagRecord(repo, model, tag);
  if (!record) {
    throw new NotFoundError(`tag ${tag} of ${repo.name}/${model} not found`, { hint: `aim model versions ${repo.name} ${model}` });
  }
  await repo.deleteTag(model, tag);
  const deleted = [tag];
  const problems: RepoProblem[] = [];
  // `latest` must not keep naming a version that was deleted: point it at the newest remaining tag, or drop it.
  if (tag !== DEFAULT_TAG && record !== 'unreadable') {
    const latest = await tagRecord(repo, model, DEFAULT_TAG);
    if (latest !== 'unreadable' && latest?.digest === record.digest) {
      const others = (await readableTags(repo, model, problems)).filter((t) => t.tag !== DEFAULT_TAG);
      // Another tag still names the version (`aim tag` gave it a second name): `latest` stays.
      const stillNamed = others.some((t) => t.digest === record.digest);
      const newest = others.filter((t) => t.digest !== record.digest).at(-1);
      if (!stillNamed && newest) await repo.putTag(model, DEFAULT_TAG, { digest: newest.digest, pushedAt: newest.pushedAt, size: newest.size, files: newest.files });
      else if (!stillNamed) {
        await repo.deleteTag(model, DEFAULT_TAG);
        deleted.push(DEFAULT_TAG);
      }
    }
  }
  await refreshIndex(repo, model);
  return { deleted, problems };
}

/** Removes every tag file of the model, whatever it holds. */
export async function deleteModel(repo: Repository, model: string): Promise<DeleteResult> {
  const tags = await tagNames(repo, model);
  if (tags.length === 0) throw new NotFoundError(`model ${model} not found in repository ${repo.name}`, { hint: `aim model list ${repo.name}` });
  for (const tag of tags) await repo.backend.delete(`models/${model}/tags/${tag}`);
  await refreshIndex(repo, model);
  return { deleted: tags, problems: [] };
}
