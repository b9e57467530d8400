// A reference that names no model version may name a bundle: the commands that accept one (pull, install,
// inspect, verify, run) try the model first, as before, and only when that finds nothing look for a bundle, so a
// reference to a model costs no extra read.
import { NotFoundError } from '../../lib/errors.js';
import type { Reference } from '../format/reference.js';
import { bundleTags, findBundleVersion, type ResolvedBundle } from '../store/bundles.js';
import type { RepoProblem, TagEntry } from '../store/model-listing.js';
import type { Repository } from '../store/repository.js';
import { pickByPrefix } from '../store/short-digest.js';

export type { ResolvedBundle };

/** The bundle `ref` names (by tag, digest or short digest among its tags), or undefined. */
export async function bundleOf(repo: Repository, ref: Reference): Promise<ResolvedBundle | undefined> {
  if (ref.digestPrefix === undefined) return findBundleVersion(repo, ref);
  const tags = await bundleTags(repo, ref.model, []);
  if (tags.length === 0) return undefined;
  const digest = pickByPrefix(`bundle ${repo.name}/${ref.model}`, tags, ref.digestPrefix, `aim model versions ${repo.name} ${ref.model}`);
  return findBundleVersion(repo, { model: ref.model, digest });
}

/**
 * `normal()`, or, when it finds no such model version and `ref` names a bundle, `bundled()` with that bundle. `ref`
 * may be found lazily (install looks a bare name up in the catalogs).
 */
export async function orBundle<T>(
  repository: (ref: Reference) => Promise<Repository>,
  ref: Reference | (() => Promise<Reference>),
  normal: () => Promise<T>,
  bundled: (found: ResolvedBundle, repo: Repository, ref: Reference) => Promise<T>,
): Promise<T> {
  try {
    return await normal();
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    // A target that is no reference at all (a file, a hub name) names no bundle either: its own error stands.
    const resolved = typeof ref === 'function' ? await ref().catch(() => undefined) : ref;
    if (!resolved) throw error;
    const repo = await repository(resolved);
    const found = await bundleOf(repo, resolved);
    if (!found) throw error;
    return bundled(found, repo, resolved);
  }
}

/** The bundle's tags, oldest first, as `aim model versions` lists a model's; undefined when there is no such bundle. */
export async function listBundleVersions(repo: Repository, name: string): Promise<{ repo: string; model: string; kind: 'bundle'; versions: TagEntry[]; problems: RepoProblem[] } | undefined> {
  const problems: RepoProblem[] = [];
  const versions = await bundleTags(repo, name, problems);
  if (versions.length === 0 && problems.length === 0) return undefined;
  return { repo: repo.name, model: name, kind: 'bundle', versions, problems };
}
