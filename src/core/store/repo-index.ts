import { undefinedIfNotFound } from '../../lib/not-found.js';
import { parseJsonOrUndefined } from '../format/schemas/parse.js';
import { REPO_INDEX_FORMAT, repoIndexSchema } from '../format/schemas/store.js';
import type { Repository, TagRecord } from './repository.js';

// index.json: a catalog of the repository's models and tags for tools that want one read instead of a listing.
// It is derived from the tags, which stay the truth: listings never trust it, a failed update is harmless, and
// `rebuildIndex` recreates it from scratch. Updates touch only the model that changed.

export interface RepoIndex {
  format: 1;
  updatedAt: string;
  models: Record<string, { tags: Record<string, TagRecord> }>;
}

const INDEX_KEY = 'index.json';

async function readIndex(repo: Repository): Promise<RepoIndex> {
  const bytes = await repo.backend.get(INDEX_KEY, REPO_INDEX_FORMAT.maxBytes).catch(undefinedIfNotFound);
  // A damaged index starts again empty; each update then adds back the model it touches, `rebuildIndex` all.
  const index = parseJsonOrUndefined(repoIndexSchema, bytes, REPO_INDEX_FORMAT) as RepoIndex | undefined;
  return index ?? { format: 1, updatedAt: new Date(0).toISOString(), models: {} };
}

async function writeIndex(repo: Repository, index: RepoIndex): Promise<void> {
  index.updatedAt = new Date().toISOString();
  await repo.backend.put(INDEX_KEY, Buffer.from(`${JSON.stringify(index, null, 1)}\n`));
}

async function modelEntry(repo: Repository, model: string): Promise<{ tags: Record<string, TagRecord> } | undefined> {
  const tags = await repo.listTags(model);
  if (tags.length === 0) return undefined;
  return { tags: Object.fromEntries(tags.map(({ tag, ...record }) => [tag, record])) };
}

/** Refreshes one model's entry after a push or delete; failures are swallowed (the index is only a cache). */
export async function refreshIndex(repo: Repository, model: string): Promise<void> {
  try {
    const index = await readIndex(repo);
    const entry = await modelEntry(repo, model);
    if (entry) index.models[model] = entry;
    else delete index.models[model];
    await writeIndex(repo, index);
  } catch {
    // the tags were written; a stale index.json is rebuilt by the next update or `rebuildIndex`
  }
}

export async function rebuildIndex(repo: Repository): Promise<RepoIndex> {
  const index: RepoIndex = { format: 1, updatedAt: '', models: {} };
  for (const model of await repo.listModels()) {
    const entry = await modelEntry(repo, model);
    if (entry) index.models[model] = entry;
  }
  await writeIndex(repo, index);
  return index;
}
