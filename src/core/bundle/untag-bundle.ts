// `aim untag REPO/BUNDLE:TAG`: a bundle's tag removed the way a model's is. `latest` naming the same bundle moves
// to the newest remaining tag naming another bundle (it stays while a tag names the same one), or goes; the catalog entry follows. The bundle manifest stays
// (gc never removes one), so its members stay roots only while a tag names it.
import { NotFoundError } from '../../lib/errors.js';
import { DEFAULT_TAG } from '../format/reference.js';
import { bundleTagKey, bundleTags, getBundleTag } from '../store/bundles.js';
import type { RepoProblem } from '../store/model-listing.js';
import type { Repository } from '../store/repository.js';
import { writeTagAt } from '../store/tags.js';
import { refreshBundleEntry } from './make-bundle.js';

export async function untagBundle(repo: Repository, name: string, tag: string): Promise<{ deleted: string[]; problems: RepoProblem[] }> {
  const record = await getBundleTag(repo, name, tag);
  if (!record) throw new NotFoundError(`tag ${tag} of ${repo.name}/${name} not found`, { hint: `aim model versions ${repo.name} ${name}` });
  const deleted = [tag];
  await repo.backend.delete(bundleTagKey(name, tag));
  const problems: RepoProblem[] = [];
  const latest = tag === DEFAULT_TAG ? undefined : await getBundleTag(repo, name, DEFAULT_TAG);
  if (latest?.digest === record.digest) {
    const remaining = (await bundleTags(repo, name, problems)).filter((t) => t.tag !== DEFAULT_TAG);
    // Another tag still names the bundle: `latest` stays.
    const stillNamed = remaining.some((t) => t.digest === record.digest);
    const newest = remaining.filter((t) => t.digest !== record.digest).at(-1);
    if (stillNamed) return finish(repo, name, deleted, problems);
    if (newest) await writeTagAt(repo, { key: bundleTagKey(name, DEFAULT_TAG), name, tag: DEFAULT_TAG }, { digest: newest.digest, pushedAt: newest.pushedAt, size: newest.size, files: newest.files }, true);
    else {
      await repo.backend.delete(bundleTagKey(name, DEFAULT_TAG));
      deleted.push(DEFAULT_TAG);
    }
  }
  return finish(repo, name, deleted, problems);
}

async function finish(repo: Repository, name: string, deleted: string[], problems: RepoProblem[]): Promise<{ deleted: string[]; problems: RepoProblem[] }> {
  await refreshBundleEntry(repo, name);
  return { deleted, problems };
}
