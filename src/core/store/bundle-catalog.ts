import { AimError, StorageError } from '../../lib/errors.js';
import type { Digest } from '../format/digest.js';
import { DEFAULT_TAG } from '../format/reference.js';
import type { CatalogEntry } from '../format/schemas/catalog.js';
import { bundleNames, bundleTags, getBundle } from './bundles.js';
import { catalogEntryKey } from './catalog-entry.js';
import type { RepoProblem } from './model-listing.js';
import type { Repository } from './repository.js';

// A bundle's catalog entry: catalog/<name>.json with `kind: bundle`, its tags, and the members of its newest
// version, so `aim list` and `aim search` show bundles beside models from index.json alone.

/** The bundle's entry from its tags and newest version, or undefined when no tag of it reads. */
export async function buildBundleEntry(repo: Repository, name: string, problems: RepoProblem[]): Promise<CatalogEntry | undefined> {
  const tags = await bundleTags(repo, name, problems);
  if (tags.length === 0) return undefined;
  const newest = tags.find((t) => t.tag === DEFAULT_TAG) ?? tags.at(-1)!;
  const bundle = await getBundle(repo, newest.digest).catch((error: unknown) => {
    if (!(error instanceof AimError)) throw error;
    problems.push({ key: `bundle ${newest.digest} of ${name}`, message: error.message });
    return undefined;
  });
  const annotations = bundle?.annotations ?? {};
  return {
    format: 1,
    kind: 'bundle',
    model: name,
    updatedAt: new Date().toISOString(),
    ...(annotations.description ? { description: annotations.description } : {}),
    quantizations: [],
    annotations,
    latest: { tag: newest.tag, digest: newest.digest, size: newest.size, files: newest.files },
    tags: Object.fromEntries(tags.map(({ tag, ...record }) => [tag, record])),
    members: bundle?.members ?? [],
  };
}

/** Writes the bundle's entry under catalog/ (deletes it when the bundle has no tag left). */
export async function storeBundleEntry(repo: Repository, name: string, entry: CatalogEntry | undefined): Promise<void> {
  if (entry) await repo.backend.put(catalogEntryKey(name), Buffer.from(`${JSON.stringify(entry, null, 1)}\n`));
  else await repo.backend.delete(catalogEntryKey(name));
}

/** Every bundle's entry, written again: what `aim repo reindex` adds to the models' entries (`models`). */
export async function rebuildBundleEntries(repo: Repository, problems: RepoProblem[], models: ReadonlySet<string>): Promise<Record<string, CatalogEntry>> {
  const entries: Record<string, CatalogEntry> = {};
  for (const name of await bundleNames(repo, problems)) {
    if (models.has(name)) {
      // References resolve to the model first, so the catalog shows what they fetch.
      problems.push({ key: `bundles/${name}`, message: `a model has the same name: references to ${name} fetch the model` });
      continue;
    }
    const entry = await buildBundleEntry(repo, name, problems);
    if (!entry) continue;
    await storeBundleEntry(repo, name, entry);
    entries[name] = entry;
  }
  return entries;
}

/** Every version some bundle names (and that bundle's name), for gc: members are roots like tagged versions. */
export async function bundleMembers(repo: Repository, problems: RepoProblem[]): Promise<Array<{ bundle: string; model: string; digest: Digest }>> {
  const members: Array<{ bundle: string; model: string; digest: Digest }> = [];
  for (const name of await bundleNames(repo, problems)) {
    for (const tag of await bundleTags(repo, name, problems)) {
      try {
        for (const member of (await getBundle(repo, tag.digest)).members) members.push({ bundle: `${name}:${tag.tag}`, model: member.model, digest: member.digest });
      } catch (error) {
        if (!(error instanceof AimError) || error instanceof StorageError) throw error;
        problems.push({ key: `bundles/${name}/tags/${tag.tag}`, message: error.message });
      }
    }
  }
  return members;
}
