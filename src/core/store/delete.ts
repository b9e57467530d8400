import { NotFoundError } from '../../lib/errors.js';
import { DEFAULT_TAG } from '../format/reference.js';
import type { Repository } from './repository.js';
import { refreshIndex } from './repo-index.js';

// Deleting removes tags only. Manifests and chunks may be shared with other versions and models; they become
// unreferenced and stay until a garbage collector (`aim gc`, to come) removes what no tag reaches. That keeps a
// delete safe while another push is running.

export async function deleteVersion(repo: Repository, model: string, tag: string): Promise<{ deleted: string[] }> {
  const record = await repo.getTag(model, tag);
  if (!record) {
    throw new NotFoundError(`tag ${tag} of ${repo.name}/${model} not found`, { hint: `aim model versions ${repo.name} ${model}` });
  }
  await repo.deleteTag(model, tag);
  const deleted = [tag];
  // `latest` must not keep naming a version that was deleted: point it at the newest remaining tag, or drop it.
  if (tag !== DEFAULT_TAG) {
    const latest = await repo.getTag(model, DEFAULT_TAG);
    if (latest?.digest === record.digest) {
      const remaining = (await repo.listTags(model)).filter((t) => t.tag !== DEFAULT_TAG && t.digest !== record.digest);
      const newest = remaining.at(-1);
      if (newest) await repo.putTag(model, DEFAULT_TAG, { digest: newest.digest, pushedAt: newest.pushedAt, size: newest.size, files: newest.files });
      else {
        await repo.deleteTag(model, DEFAULT_TAG);
        deleted.push(DEFAULT_TAG);
      }
    }
  }
  await refreshIndex(repo, model);
  return { deleted };
}

export async function deleteModel(repo: Repository, model: string): Promise<{ deleted: string[] }> {
  const tags = await repo.listTags(model);
  if (tags.length === 0) throw new NotFoundError(`model ${model} not found in repository ${repo.name}`, { hint: `aim model list ${repo.name}` });
  for (const { tag } of tags) await repo.deleteTag(model, tag);
  await refreshIndex(repo, model);
  return { deleted: tags.map((t) => t.tag) };
}
