import { ObjectTooLargeError, supportsConditionalPut, type Backend, type ConditionalPut } from '../../backends/backend.js';
import { AimError, ConflictError } from '../../lib/errors.js';
import { undefinedIfNotFound } from '../../lib/not-found.js';
import { sleep } from '../../lib/poll.js';
import type { Manifest } from '../format/manifest.js';
import { CATALOG_ENTRY_FORMAT, CATALOG_INDEX_FORMAT, parseCatalogIndex, type CatalogEntry, type CatalogIndex } from '../format/schemas/catalog.js';
import { buildCatalogEntry, catalogEntryKey } from './catalog-entry.js';
import { withIndexLock } from './index-lock.js';
import { rebuildBundleEntries } from './bundle-catalog.js';
import { modelNames, tagNames, type RepoProblem } from './model-listing.js';
import { isSafeName } from '../format/names.js';
import type { Repository } from './repository.js';

// The catalog has two layers. catalog/<model>.json is written by each push, delete and tag move of that model and
// by nothing else, so writers of different models never touch the same key: these entries are the truth. index.json
// rolls them up for readers that want one read; each writer replaces only its own model's part of it, by
// compare-and-swap where the backend has one (retried on conflict, re-reading index.json alone) and under a lock
// file elsewhere. Readers still check index.json against the list of entries (core/catalog/read-catalog.ts), so
// an update lost to a server that ignores conditions costs a read, not a model.

export const INDEX_KEY = 'index.json';
const SWAP_ATTEMPTS = 20;

export function encodeIndex(index: CatalogIndex): Buffer {
  return Buffer.from(`${JSON.stringify(index, null, 1)}\n`);
}

const emptyIndex = (): CatalogIndex => ({ format: 2, updatedAt: new Date(0).toISOString(), models: {} });

/** index.json's content, or undefined when it is missing, damaged or from an older aim. */
function parseOrUndefined(bytes: Buffer | undefined): CatalogIndex | undefined {
  if (!bytes) return undefined;
  try {
    return parseCatalogIndex(bytes, INDEX_KEY).index; // a bad model's part is dropped: its own push or reindex restores it
  } catch (error) {
    if (!(error instanceof AimError)) throw error;
    return undefined;
  }
}

/** A change to index.json; `found` says whether there was a usable index.json to change (else it starts empty). */
type IndexChange = (index: CatalogIndex, found: boolean) => void;

async function readForUpdate(backend: Backend): Promise<Buffer | undefined> {
  return backend.get(INDEX_KEY, CATALOG_INDEX_FORMAT.maxBytes).catch((error: unknown) => {
    if (error instanceof ObjectTooLargeError) return undefined;
    return undefinedIfNotFound(error);
  });
}

/**
 * Compare-and-swap of one catalog key, tried again against the new value when another writer won. `next` is given
 * the current bytes (undefined: missing, or too large to be ours, which is then replaced whole as damage is) and
 * returns the new bytes (undefined: delete the key).
 */
async function swapKey(backend: Backend & ConditionalPut, key: string, maxBytes: number, next: (current: Buffer | undefined) => Promise<Buffer | undefined>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const current = await backend.getVersioned(key, maxBytes).catch((error: unknown) => {
      if (error instanceof ObjectTooLargeError) return 'too-large' as const;
      throw error;
    });
    const data = await next(current === 'too-large' ? undefined : current?.data);
    try {
      if (!data) await backend.delete(key);
      else if (current === 'too-large') await backend.put(key, data);
      else await backend.putIfVersion(key, data, current?.version);
      return;
    } catch (error) {
      if (!(error instanceof ConflictError) || attempt === SWAP_ATTEMPTS) throw error;
      // Writers that lost together should not meet again at once.
      await sleep(5 + Math.random() * 20 * attempt);
    }
  }
}

/** index.json changed by `apply`; the changed bytes. */
function appliedTo(bytes: Buffer | undefined, apply: IndexChange): Buffer {
  const found = parseOrUndefined(bytes);
  const index = found ?? emptyIndex();
  apply(index, found !== undefined);
  index.updatedAt = new Date().toISOString();
  return encodeIndex(index);
}

const swapIndex = (backend: Backend & ConditionalPut, apply: IndexChange): Promise<void> =>
  swapKey(backend, INDEX_KEY, CATALOG_INDEX_FORMAT.maxBytes, async (bytes) => appliedTo(bytes, apply));

/** index.json read, changed and written back: only under the index lock (backends without compare-and-swap). */
async function rewriteIndex(backend: Backend, apply: IndexChange): Promise<void> {
  await backend.put(INDEX_KEY, appliedTo(await readForUpdate(backend), apply));
}

/** Applies `apply` to index.json without losing what a concurrent writer put there. */
export async function updateIndex(repo: Repository, apply: IndexChange): Promise<void> {
  const backend = repo.backend;
  if (supportsConditionalPut(backend)) return swapIndex(backend, apply);
  await withIndexLock(backend, () => rewriteIndex(backend, apply));
}

const encodeEntry = (entry: CatalogEntry): Buffer => Buffer.from(`${JSON.stringify(entry, null, 1)}\n`);

/** Writes the model's entry (or deletes it when the model has no tag left). */
async function storeEntry(repo: Repository, model: string, entry: CatalogEntry | undefined): Promise<void> {
  if (entry) await repo.backend.put(catalogEntryKey(model), encodeEntry(entry));
  else await repo.backend.delete(catalogEntryKey(model));
}

/**
 * The model's entry built from its tags and written by compare-and-swap, built again on conflict: of two pushes of
 * the same model, the one that writes last has read the other's tags.
 */
async function swapEntry(repo: Repository, backend: Backend & ConditionalPut, model: string, known: RefreshOptions['known']): Promise<CatalogEntry | undefined> {
  let entry: CatalogEntry | undefined;
  await swapKey(backend, catalogEntryKey(model), CATALOG_ENTRY_FORMAT.maxBytes, async () => {
    entry = await buildCatalogEntry(repo, model, [], known);
    return entry && encodeEntry(entry);
  });
  return entry;
}

/** Puts the model's entry in the index (or takes it out), unless a writer of the same model that came later did. */
function placeEntry(model: string, entry: CatalogEntry | undefined, builtAt: string): (index: CatalogIndex) => void {
  return (index) => {
    const current = index.models[model];
    if (current && current.updatedAt > (entry?.updatedAt ?? builtAt)) return;
    if (entry) index.models[model] = entry;
    else delete index.models[model];
  };
}

export interface RefreshOptions {
  /** The manifest a push just wrote, so the entry need not read it back. */
  known?: { digest: string; manifest: Manifest };
  /** Told, in one line, when the catalog could not be updated (the tags were: nothing is lost). */
  note?: (message: string) => void;
}

/** Whether `models/` holds a model other than `model`: stops at the first key that says so. */
async function hasOtherModels(repo: Repository, model: string): Promise<boolean> {
  for await (const { key } of repo.backend.list('models/')) if (!key.startsWith(`models/${model}/`)) return true;
  return false;
}

/**
 * Rewrites one model's entry and its part of index.json after a push, delete or tag move. In a folder, the entry is
 * built and written under the index lock too, so writers of the same model take turns there as well. A push that
 * finds no usable index.json (lost, damaged, or an older aim's) while other models exist rebuilds the whole catalog
 * once: their entries may be missing too, and readers trust a roll-up plus the entries.
 */
export async function refreshIndex(repo: Repository, model: string, options: RefreshOptions = {}): Promise<void> {
  const backend = repo.backend;
  try {
    const builtAt = new Date().toISOString();
    let foundIndex = true;
    const place = (entry: CatalogEntry | undefined): IndexChange => (index, found) => {
      foundIndex = found;
      placeEntry(model, entry, builtAt)(index);
    };
    if (supportsConditionalPut(backend)) {
      const entry = await swapEntry(repo, backend, model, options.known);
      await swapIndex(backend, place(entry));
    } else {
      await withIndexLock(backend, async () => {
        const entry = await buildCatalogEntry(repo, model, [], options.known);
        await storeEntry(repo, model, entry);
        await rewriteIndex(backend, place(entry));
      });
    }
    if (!foundIndex && (await hasOtherModels(repo, model))) {
      const rebuilt = await rebuildIndex(repo);
      options.note?.(`index.json of ${repo.name} was missing or unreadable: rebuilt from the tags (${rebuilt.models} models)`);
    }
  } catch (error) {
    if (!(error instanceof AimError)) throw error;
    options.note?.(`the catalog of ${repo.name} was not updated for ${model} (${error.message}); \`aim repo reindex ${repo.name}\` rebuilds it`);
  }
}

/**
 * The rebuilt entries, except where a push wrote a newer one while the rebuild ran (kept, as is a model pushed
 * meanwhile). Entries written before the rebuild began that it did not find are of deleted models: dropped.
 */
function mergeRebuilt(current: Record<string, CatalogEntry>, rebuilt: Record<string, CatalogEntry>, startedAt: string): Record<string, CatalogEntry> {
  const merged = { ...rebuilt };
  for (const [name, entry] of Object.entries(current)) {
    if (entry.updatedAt > (rebuilt[name]?.updatedAt ?? startedAt)) merged[name] = entry;
  }
  return merged;
}

export interface ReindexResult {
  repo: string;
  models: number;
  /** Entries of models that no longer have a tag, deleted. */
  removed: string[];
  problems: RepoProblem[];
}

/** Rebuilds every entry and index.json from the tags and manifests alone: `aim repo reindex`. */
export async function rebuildIndex(repo: Repository): Promise<ReindexResult> {
  await repo.backend.probe('write');
  const startedAt = new Date().toISOString();
  const problems: RepoProblem[] = [];
  const models: Record<string, CatalogEntry> = {};
  for (const model of await modelNames(repo, problems)) {
    const entry = await buildCatalogEntry(repo, model, problems);
    if (!entry) continue;
    await storeEntry(repo, model, entry);
    models[model] = entry;
  }
  for (const [name, entry] of Object.entries(await rebuildBundleEntries(repo, problems, new Set(Object.keys(models))))) models[name] ??= entry;
  const removed: string[] = [];
  for await (const { key } of repo.backend.list('catalog/')) {
    const model = /^catalog\/(.+)\.json$/.exec(key)?.[1];
    // A model first pushed while this ran has tags by now: its entry stays.
    if (model !== undefined && !(model in models) && (!isSafeName(model) || (await tagNames(repo, model)).length === 0)) {
      await repo.backend.delete(key);
      removed.push(model);
    }
  }
  await updateIndex(repo, (index) => {
    index.models = mergeRebuilt(index.models, models, startedAt);
  });
  return { repo: repo.name, models: Object.keys(models).length, removed: removed.sort(), problems };
}
