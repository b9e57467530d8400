import type { Digest } from '../format/digest.js';
import { NotFoundError, UsageError } from '../../lib/errors.js';
import { readableTags, type TagEntry } from './model-listing.js';
import type { Repository } from './repository.js';

// A short digest names a version the way `aim model versions` prints it. It is looked up among the model's tagged
// versions only (a listing of one model's tags, not of every manifest in the repository), like git's short hashes
// among a repository's objects: one match is the version, several are an error listing them.

/** The one tagged version of `model` whose digest starts with `prefix` (hex, no `blake3:`). */
export async function resolveShortDigest(repo: Repository, model: string, prefix: string): Promise<Digest> {
  return pickByPrefix(`${repo.name}/${model}`, await readableTags(repo, model, []), prefix, `aim model versions ${repo.name} ${model}`);
}

/** Of `tags` (a model's or a bundle's, named `label`), the one digest starting with `prefix`. */
export function pickByPrefix(label: string, tags: readonly TagEntry[], prefix: string, listCommand: string): Digest {
  const matches = new Map<Digest, string[]>();
  for (const { tag, digest } of tags) {
    if (digest.startsWith(`blake3:${prefix}`)) matches.set(digest, [...(matches.get(digest) ?? []), tag]);
  }
  if (matches.size === 1) return [...matches.keys()][0]!;
  if (matches.size === 0) {
    throw new NotFoundError(`no version of ${label} has a digest starting with ${prefix}`, {
      hint: `list its versions with \`${listCommand}\``,
    });
  }
  const candidates = [...matches].map(([digest, names]) => `${digest.slice(7, 7 + prefix.length + 4)} (${names.join(', ')})`);
  throw new UsageError(`digest prefix ${prefix} of ${label} is ambiguous: ${candidates.join(', ')}`, {
    hint: 'give more hex digits of the digest, or the whole blake3:... digest',
  });
}
