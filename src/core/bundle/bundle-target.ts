// A reference that names no model version may name a bundle: the commands that accept one (pull, install,
// inspect, verify, run) try the model first, as before, and only when that finds nothing look for a bundle, so a
// reference to a model costs no extra read.
import { NotFoundError } from '../../lib/errors.js';
import type { Reference } from '../format/reference.js';
import { findBundleVersion, type ResolvedBundle } from '../store/bundles.js';
import type { Repository } from '../store/repository.js';

export type { ResolvedBundle };

/** The bundle `ref` names, or undefined (a short digest names model versions only). */
export async function bundleOf(repo: Repository, ref: Reference): Promise<ResolvedBundle | undefined> {
  if (ref.digestPrefix !== undefined) return undefined;
  return findBundleVersion(repo, ref);
}

/** `normal()`, or, when it finds no such model version and `ref` names a bundle, `bundled()` with that bundle. */
export async function orBundle<T>(
  repository: () => Promise<Repository>,
  ref: Reference,
  normal: () => Promise<T>,
  bundled: (found: ResolvedBundle, repo: Repository) => Promise<T>,
): Promise<T> {
  try {
    return await normal();
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    const repo = await repository();
    const found = await bundleOf(repo, ref);
    if (!found) throw error;
    return bundled(found, repo);
  }
}
