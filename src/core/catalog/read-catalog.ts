import { canList } from '../../backends/backend.js';
import { AimError, NotFoundError } from '../../lib/errors.js';
import { undefinedIfNotFound } from '../../lib/not-found.js';
import { isSafeName } from '../format/names.js';
import { CATALOG_ENTRY_FORMAT, CATALOG_INDEX_FORMAT, catalogEntrySchema, parseCatalogIndex, type CatalogEntry, type CatalogIndex } from '../format/schemas/catalog.js';
import { parseJson } from '../format/schemas/parse.js';
import { getBounded } from '../store/bounded-read.js';
import { buildCatalogEntry, catalogEntryKey } from '../store/catalog-entry.js';
import { modelNames, type RepoProblem } from '../store/model-listing.js';
import { INDEX_KEY } from '../store/repo-index.js';
import type { Repository } from '../store/repository.js';
import { compareText } from '../../lib/compare-text.js';

// Reading a repository's catalog: index.json in one read, checked against the list of entries under catalog/ so
// that a model whose update of index.json was lost (a server ignoring conditional writes, a push killed between
// its entry and the roll-up) is still found, and a deleted one is not shown. Anything that does not read (a
// damaged or hostile index.json or entry) is stepped over, named in `problems`, and that model is rebuilt from its
// tags in memory. Nothing is written: `aim repo reindex` repairs.

export interface RepoCatalog {
  repo: string;
  models: CatalogEntry[];
  problems: RepoProblem[];
}

/**
 * Any plain failure to read one catalog file (damage, a link or FIFO the store refuses) is that file's problem: the
 * fallback then reads the tags, and a store that cannot be reached at all fails there, ending the listing.
 */
const problemOf = (key: string, error: unknown): RepoProblem => {
  if (!(error instanceof AimError)) throw error;
  return { key, message: error.message };
};

async function readIndexFile(repo: Repository, problems: RepoProblem[]): Promise<CatalogIndex | undefined> {
  const where = `${INDEX_KEY} in ${repo.location}`;
  try {
    const bytes = await getBounded(repo.backend, INDEX_KEY, CATALOG_INDEX_FORMAT, where).catch(undefinedIfNotFound);
    if (!bytes) return undefined;
    const { index, bad } = parseCatalogIndex(bytes, where);
    // A model whose part does not read is left out here, and so read from its own entry.
    for (const { error } of bad) problems.push(problemOf(INDEX_KEY, error));
    return index;
  } catch (error) {
    problems.push(problemOf(INDEX_KEY, error));
    return undefined;
  }
}

/** Models that have an entry under catalog/; a file there whose name no model can have is a problem. */
async function listEntries(repo: Repository, problems: RepoProblem[]): Promise<Set<string>> {
  const models = new Set<string>();
  for await (const { key } of repo.backend.list('catalog/')) {
    const model = /^catalog\/([^/]+)\.json$/.exec(key)?.[1];
    if (model !== undefined && isSafeName(model)) models.add(model);
    else problems.push({ key, message: 'not a catalog entry aim writes' });
  }
  return models;
}

/** The model's entry, or (when it does not read) one rebuilt from its tags. */
async function readEntry(repo: Repository, model: string, problems: RepoProblem[]): Promise<CatalogEntry | undefined> {
  const key = catalogEntryKey(model);
  const where = `${key} in ${repo.location}`;
  try {
    const bytes = await getBounded(repo.backend, key, CATALOG_ENTRY_FORMAT, where).catch(undefinedIfNotFound);
    const entry = bytes && parseJson(catalogEntrySchema, bytes, CATALOG_ENTRY_FORMAT, where);
    if (!entry || entry.model === model) return entry;
    problems.push({ key, message: `names model ${entry.model}, not ${model}` });
  } catch (error) {
    problems.push(problemOf(key, error));
  }
  return buildCatalogEntry(repo, model, problems);
}

/** Every model of the repository with its catalog entry, by name. */
export async function readCatalog(repo: Repository): Promise<RepoCatalog> {
  const problems: RepoProblem[] = [];
  const index = await readIndexFile(repo, problems);
  if (!canList(repo.backend)) return unlistedCatalog(repo, index, problems);
  const listed = await listEntries(repo, problems);
  const models = new Map<string, CatalogEntry>();
  for (const [name, entry] of Object.entries(index?.models ?? {})) {
    if (listed.has(name) && entry.model === name) models.set(name, entry);
  }
  for (const model of listed) {
    if (models.has(model)) continue;
    const entry = await readEntry(repo, model, problems);
    if (entry) models.set(model, entry);
  }
  // Without a roll-up (a repository last written by an older aim, or index.json lost) the tags say what exists.
  if (!index) {
    for (const model of await modelNames(repo, problems)) {
      if (models.has(model)) continue;
      const entry = await buildCatalogEntry(repo, model, problems);
      if (entry) models.set(model, entry);
    }
  }
  return { repo: repo.name, models: [...models.values()].sort((a, b) => compareText(a.model, b.model)), problems };
}

/**
 * A store that cannot list (a static web server): index.json is the whole catalog, since nothing can be checked
 * against a listing; without it there is no way to know what the repository holds.
 */
function unlistedCatalog(repo: Repository, index: CatalogIndex | undefined, problems: RepoProblem[]): RepoCatalog {
  if (!index) {
    const why = problems.find((problem) => problem.key === INDEX_KEY)?.message;
    throw new NotFoundError(`${why ?? `${INDEX_KEY} in ${repo.location} is missing`}, and a web server cannot list the models instead`, {
      hint: 'run `aim repo reindex` on the repository the server publishes, then copy index.json and catalog/ to the server',
    });
  }
  const models = Object.entries(index.models).filter(([name, entry]) => entry.model === name).map(([, entry]) => entry);
  return { repo: repo.name, models: models.sort((a, b) => compareText(a.model, b.model)), problems };
}
