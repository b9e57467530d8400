// `aim bundle REPO/NAME:TAG MODEL...`: resolve each member to the version it names now, store the bundle manifest,
// then its tags (the same compare-and-swap as a push: a bundle tag is immutable unless --force, `latest` follows),
// then its catalog entry, last, as a push does: a crash before the tag leaves only an unnamed bundle manifest.
// A rerun whose tag is unchanged leaves `latest` alone, as a push of unchanged content does.
import { AimError, ConflictError, UsageError } from '../../lib/errors.js';
import type { Digest } from '../format/digest.js';
import { manifestSize } from '../format/manifest.js';
import { DEFAULT_TAG, parseReference, parseVersionDigest, type Reference } from '../format/reference.js';
import { checkModelName, checkTagName } from '../format/names.js';
import { BUNDLE_MEDIA_TYPE, MAX_BUNDLE_MEMBERS, type BundleMember } from '../format/schemas/bundle.js';
import { buildBundleEntry, storeBundleEntry } from '../store/bundle-catalog.js';
import { bundleTagKey, findBundleVersion, putBundle } from '../store/bundles.js';
import { tagNames } from '../store/model-listing.js';
import { updateIndex } from '../store/repo-index.js';
import type { Repository } from '../store/repository.js';
import { resolveVersion } from '../store/resolve.js';
import { writeTagAt, type TagOutcome } from '../store/tags.js';

export interface BundleOptions {
  force?: boolean;
  annotations?: Record<string, string>;
  /** Told, in one line, when the catalog could not be updated (the bundle and its tag were written). */
  note?: (message: string) => void;
}

export interface BundleResult {
  repo: string;
  name: string;
  tag: string;
  digest: Digest;
  outcome: TagOutcome;
  size: number;
  files: number;
  members: BundleMember[];
}

/** A member as written on the command line: MODEL[:TAG|@DIGEST], or REPO/MODEL... naming this same repository. */
export function parseMember(text: string, repo: string): Reference {
  if (text.includes('/')) {
    const ref = parseReference(text);
    if (ref.repo !== repo) {
      throw new UsageError(`member ${text} is in repository ${ref.repo}, not ${repo}: a bundle names versions of its own repository only`, {
        hint: `copy it first (\`aim copy ${text} ${repo}\`), then name it as ${ref.model}; gc of ${repo} must see every version its bundles keep`,
      });
    }
    return ref;
  }
  const at = text.indexOf('@');
  if (at >= 0) return { repo, model: checkModelName(text.slice(0, at)), ...parseVersionDigest(text.slice(at + 1), `member ${text}`) };
  const colon = text.indexOf(':');
  if (colon >= 0) return { repo, model: checkModelName(text.slice(0, colon)), tag: checkTagName(text.slice(colon + 1)) };
  return { repo, model: checkModelName(text), tag: DEFAULT_TAG };
}

async function resolveMember(repo: Repository, ref: Reference): Promise<BundleMember> {
  if ((await tagNames(repo, ref.model)).length === 0 && (await findBundleVersion(repo, ref))) {
    throw new UsageError(`${ref.model} is a bundle: bundles do not nest`, { hint: `name its members instead (\`aim inspect ${repo.name}/${ref.model}\` lists them)` });
  }
  const version = await resolveVersion(repo, ref);
  return { model: version.model, ...(version.tag ? { tag: version.tag } : {}), digest: version.digest, size: manifestSize(version.manifest), files: version.manifest.files.length };
}

async function checkMembers(name: string, members: string[]): Promise<void> {
  if (members.length === 0) throw new UsageError(`bundle ${name} names no member`, { hint: 'e.g. `aim bundle REPO/NAME:TAG MODEL[:TAG] MODEL@DIGEST ...`' });
  if (members.length > MAX_BUNDLE_MEMBERS) throw new UsageError(`a bundle holds at most ${MAX_BUNDLE_MEMBERS} members, not ${members.length}`, { hint: 'split it into several bundles' });
}

export async function makeBundle(repo: Repository, target: Reference, memberTexts: string[], options: BundleOptions = {}): Promise<BundleResult> {
  if (target.tag === undefined) throw new UsageError(`a bundle is named REPO/NAME:TAG, not by digest`, { hint: 'e.g. `aim bundle team/chat-kit:v1 llama:v3 embedder:v2`' });
  await checkMembers(target.model, memberTexts);
  if ((await tagNames(repo, target.model)).length > 0) {
    throw new ConflictError(`${target.model} is a model in repository ${repo.name}: a bundle cannot take its name`, { hint: 'choose another bundle name' });
  }
  const members: BundleMember[] = [];
  for (const text of memberTexts) {
    const member = await resolveMember(repo, parseMember(text, repo.name));
    if (members.some((m) => m.model === member.model)) throw new UsageError(`model ${member.model} is named twice`, { hint: 'a bundle holds one version of each model' });
    members.push(member);
  }
  const { digest } = await putBundle(repo, { schemaVersion: 1, mediaType: BUNDLE_MEDIA_TYPE, members, annotations: options.annotations ?? {} });
  const size = members.reduce((sum, m) => sum + m.size, 0);
  const files = members.reduce((sum, m) => sum + m.files, 0);
  const record = { digest, pushedAt: new Date().toISOString(), size, files };
  const place = (tag: string) => ({ key: bundleTagKey(target.model, tag), name: target.model, tag });
  // The named tag first, so a refused move changes nothing; `latest` then follows even on a rerun after a crash.
  const outcome = await writeTagAt(repo, place(target.tag), record, options.force ?? false);
  if (target.tag !== DEFAULT_TAG && outcome !== 'unchanged') await writeTagAt(repo, place(DEFAULT_TAG), record, true);
  await refreshBundleEntry(repo, target.model, options.note);
  return { repo: repo.name, name: target.model, tag: target.tag, digest, outcome, size, files, members };
}

/** The bundle's catalog entry and its part of index.json, written again from its tags. */
export async function refreshBundleEntry(repo: Repository, name: string, note?: (message: string) => void): Promise<void> {
  try {
    const entry = await buildBundleEntry(repo, name, []);
    await storeBundleEntry(repo, name, entry);
    await updateIndex(repo, (index) => {
      if (entry) index.models[name] = entry;
      else delete index.models[name];
    });
  } catch (error) {
    if (!(error instanceof AimError)) throw error;
    note?.(`the catalog of ${repo.name} was not updated for bundle ${name} (${error.message}); \`aim repo reindex ${repo.name}\` rebuilds it`);
  }
}
