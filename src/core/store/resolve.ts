import type { Digest } from '../format/digest.js';
import { NotFoundError } from '../../lib/errors.js';
import type { Manifest } from '../format/manifest.js';
import { DEFAULT_TAG } from '../format/reference.js';
import type { Repository } from './repository.js';
import { resolveShortDigest } from './short-digest.js';

export interface VersionSelector {
  model: string;
  tag?: string;
  digest?: Digest;
  /** A short digest (`versions` prints 12 hex), unique among the model's tagged versions. */
  digestPrefix?: string;
}

export interface ResolvedVersion {
  model: string;
  tag?: string;
  digest: Digest;
  manifest: Manifest;
  /** The manifest's exact bytes, as read and checked against `digest`. */
  bytes?: Uint8Array;
}

/** Tag or digest -> verified manifest. */
export async function resolveVersion(repo: Repository, selector: VersionSelector): Promise<ResolvedVersion> {
  const digest = selector.digest ?? (selector.digestPrefix ? await resolveShortDigest(repo, selector.model, selector.digestPrefix) : undefined);
  if (digest) return { model: selector.model, digest, ...(await repo.readManifest(digest)) };
  const tag = selector.tag ?? DEFAULT_TAG;
  const record = await repo.getTag(selector.model, tag);
  if (!record) {
    const models = await repo.listModels();
    const known = models.includes(selector.model);
    throw new NotFoundError(
      known ? `tag ${tag} of ${repo.name}/${selector.model} not found` : `model ${selector.model} not found in repository ${repo.name}`,
      { hint: known ? `aim model versions ${repo.name} ${selector.model}` : `aim model list ${repo.name}` },
    );
  }
  return { model: selector.model, tag, digest: record.digest, ...(await repo.readManifest(record.digest)) };
}
