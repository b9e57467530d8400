import { NotFoundError, UsageError } from '../../lib/errors.js';
import { undefinedIfNotFound } from '../../lib/not-found.js';
import type { Backend } from '../../backends/backend.js';
import { CATALOG_ENTRY_FORMAT, CATALOG_INDEX_FORMAT, catalogEntrySchema, parseCatalogIndex } from '../format/schemas/catalog.js';
import { parseJson } from '../format/schemas/parse.js';
import { getBounded } from './bounded-read.js';

// A store that cannot list (a static web server publishing a repository): the models are the ones index.json names
// and a model's tags the ones its catalog entry names. Both are what the publishing repository's pushes wrote, so
// a tag read through them is still read (and checked) from models/MODEL/tags/TAG itself.

const HINT = 'run `aim repo reindex` on the repository the server publishes, then copy index.json and catalog/ to the server';

/** The models index.json names, sorted. */
export async function publishedModels(backend: Backend): Promise<string[]> {
  const where = `index.json in ${backend.location}`;
  const bytes = await getBounded(backend, 'index.json', CATALOG_INDEX_FORMAT, where).catch(undefinedIfNotFound);
  if (!bytes) throw new NotFoundError(`${where} is missing, and a web server cannot list the models instead`, { hint: HINT });
  const { index } = parseCatalogIndex(bytes, where);
  return Object.keys(index.models).sort();
}

/** The tags the model's catalog entry names, sorted; a model without an entry has none the server can show. */
export async function publishedTags(backend: Backend, model: string): Promise<string[]> {
  const key = `catalog/${model}.json`;
  const where = `${key} in ${backend.location}`;
  const bytes = await getBounded(backend, key, CATALOG_ENTRY_FORMAT, where).catch(undefinedIfNotFound);
  if (!bytes) return [];
  const entry = parseJson(catalogEntrySchema, bytes, CATALOG_ENTRY_FORMAT, where);
  if (entry.model !== model) throw new NotFoundError(`${where} names model ${entry.model}, not ${model}`, { hint: HINT });
  return Object.keys(entry.tags).sort();
}

/**
 * Finding chunks without a version's location map means reading every index file, which needs a listing of
 * index/: refused plainly rather than guessed.
 */
export function refuseIndexListing(backend: Backend): never {
  throw new UsageError(`${backend.location} is a web server, which cannot list index/: this version has no location map (locations/) to find its chunks`, {
    hint: 'push it again with a current aim, or run `aim repo upgrade` on the source repository, then copy it to the server',
  });
}
