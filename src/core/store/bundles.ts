import { canList } from '../../backends/backend.js';
import { ConflictError, IntegrityError, NotFoundError } from '../../lib/errors.js';
import { undefinedIfNotFound } from '../../lib/not-found.js';
import { assertDigest, digestHex, digestOf, type Digest } from '../format/digest.js';
import { checkModelName, checkTagName, isSafeName } from '../format/names.js';
import { DEFAULT_TAG } from '../format/reference.js';
import { BUNDLE_FORMAT, encodeBundle, parseBundle, type Bundle } from '../format/schemas/bundle.js';
import { parseTag, TAG_FORMAT } from '../format/schemas/store.js';
import { getBounded } from './bounded-read.js';
import { problemOf, type RepoProblem, type TagEntry } from './model-listing.js';
import type { Repository, TagRecord } from './repository.js';
import { publishedTags } from './unlisted.js';
import { compareText } from '../../lib/compare-text.js';

// Bundles live beside models, not among them: bundles/blake3/<hh>/<hex> holds a bundle manifest and
// bundles/<name>/tags/<tag> its tags. Kept apart so that everything reading models/ and manifests/ (listings, verify,
// copy, gc's sweep of manifests) meets only model versions, as it always did; gc reads bundles through roots.ts,
// and never removes a bundle manifest (a few hundred bytes each).

export const bundleManifestKey = (digest: Digest): string => `bundles/blake3/${digestHex(digest).slice(0, 2)}/${digestHex(digest)}`;
export const bundleTagKey = (name: string, tag: string): string => `bundles/${checkModelName(name)}/tags/${checkTagName(tag)}`;

export async function putBundle(repo: Repository, bundle: Bundle): Promise<{ digest: Digest; bytes: number }> {
  const bytes = encodeBundle(bundle);
  const digest = await digestOf(bytes);
  await repo.backend.putIfAbsent(bundleManifestKey(digest), bytes);
  return { digest, bytes: bytes.length };
}

/** The bundle manifest stored under `digest`, checked against it and its schema; undefined when there is none. */
export async function findBundle(repo: Repository, digest: Digest): Promise<Bundle | undefined> {
  const where = `bundle ${digest} in repository ${repo.name}`;
  const bytes = await getBounded(repo.backend, bundleManifestKey(digest), BUNDLE_FORMAT, where).catch(undefinedIfNotFound);
  if (!bytes) return undefined;
  await assertDigest(bytes, digest, where);
  return parseBundle(bytes, where);
}

export async function getBundle(repo: Repository, digest: Digest): Promise<Bundle> {
  const bundle = await findBundle(repo, digest);
  if (bundle) return bundle;
  throw new IntegrityError(`bundle ${digest} is missing from repository ${repo.name}, though a tag names it`, {
    hint: 'write the bundle again with `aim bundle REPO/NAME:TAG MODEL...`',
  });
}

export async function getBundleTag(repo: Repository, name: string, tag: string): Promise<TagRecord | undefined> {
  const key = bundleTagKey(name, tag);
  const where = `${key} in ${repo.location}`;
  const bytes = await getBounded(repo.backend, key, TAG_FORMAT, where).catch(undefinedIfNotFound);
  return bytes ? parseTag(bytes, where) : undefined;
}

/** Refuses a model named like a bundle of the repository: a reference to that name would mean two things. */
export async function refuseBundleName(repo: Repository, model: string): Promise<void> {
  if (!canList(repo.backend)) return;
  for await (const _ of repo.backend.list(`bundles/${checkModelName(model)}/tags/`)) {
    throw new ConflictError(`${model} is a bundle in repository ${repo.name}: a model cannot take its name`, {
      hint: `push under another name, or remove the bundle's tags first (\`aim untag ${repo.name}/${model}:TAG\`)`,
    });
  }
}

/** Names under bundles/ that aim could have written (a folder named otherwise is a problem). */
export async function bundleNames(repo: Repository, problems: RepoProblem[]): Promise<string[]> {
  if (!canList(repo.backend)) return [];
  const names = new Set<string>();
  for await (const { key } of repo.backend.list('bundles/')) {
    const match = /^bundles\/([^/]+)\/tags\/[^/]+$/.exec(key);
    if (!match) continue;
    if (isSafeName(match[1]!)) names.add(match[1]!);
    else problems.push({ key: `bundles/${match[1]}`, message: 'not a bundle name aim writes' });
  }
  return [...names].sort();
}

/** The bundle's tags that read, oldest first; a tag that does not read is a problem. */
export async function bundleTags(repo: Repository, name: string, problems: RepoProblem[]): Promise<TagEntry[]> {
  const prefix = `bundles/${checkModelName(name)}/tags/`;
  const names: string[] = [];
  if (canList(repo.backend)) {
    for await (const { key } of repo.backend.list(prefix)) if (!key.slice(prefix.length).includes('/')) names.push(key.slice(prefix.length));
  } else {
    // A web server lists nothing: the tags are those the bundle's catalog entry names.
    names.push(...(await publishedTags(repo.backend, name)));
  }
  const tags: TagEntry[] = [];
  for (const tag of names) {
    try {
      const record = await getBundleTag(repo, name, checkTagName(tag));
      if (record) tags.push({ ...record, tag });
    } catch (error) {
      problems.push(problemOf(`${prefix}${tag}`, error));
    }
  }
  return tags.sort((a, b) => compareText(a.pushedAt, b.pushedAt) || compareText(a.tag, b.tag));
}

export interface ResolvedBundle {
  name: string;
  tag?: string;
  digest: Digest;
  bundle: Bundle;
}

/** The bundle `name:tag` or `name@digest` names, or undefined when there is no such bundle. */
export async function findBundleVersion(repo: Repository, selector: { model: string; tag?: string; digest?: Digest }): Promise<ResolvedBundle | undefined> {
  if (selector.digest) {
    const bundle = await findBundle(repo, selector.digest);
    return bundle && { name: selector.model, digest: selector.digest, bundle };
  }
  const tag = selector.tag ?? DEFAULT_TAG;
  const record = await getBundleTag(repo, selector.model, tag);
  return record && { name: selector.model, tag, digest: record.digest, bundle: await getBundle(repo, record.digest) };
}

export async function resolveBundle(repo: Repository, selector: { model: string; tag?: string; digest?: Digest }): Promise<ResolvedBundle> {
  const found = await findBundleVersion(repo, selector);
  if (found) return found;
  throw new NotFoundError(`bundle ${selector.model}${selector.digest ? `@${selector.digest}` : `:${selector.tag ?? DEFAULT_TAG}`} not found in repository ${repo.name}`, {
    hint: `list what the repository holds with \`aim list --repo ${repo.name}\``,
  });
}
