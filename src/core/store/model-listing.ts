import { canList } from '../../backends/backend.js';
import { NotFoundError, StorageError } from '../../lib/errors.js';
import { publishedTags } from './unlisted.js';
import { checkModelName, checkTagName } from '../format/names.js';
import { DEFAULT_TAG } from '../format/reference.js';
import type { Repository, TagRecord } from './repository.js';
import { compareText } from '../../lib/compare-text.js';
import { forEachConcurrently } from '../../lib/concurrently.js';

// Listings over a shared repository. Anyone who can write there can leave a folder under models/ that aim would
// never create, or a tag file that does not parse; that must cost the one model or tag, not every listing, verify
// or delete. So each is reported as a problem (naming its key) and the rest goes on. Only a store that cannot be
// reached at all (a StorageError) ends the listing: then nothing could be listed anyway.

export interface RepoProblem {
  /** The key (or key prefix) that is bad, e.g. `models/resnet/tags/v2`. */
  key: string;
  message: string;
}

export type TagEntry = { tag: string } & TagRecord;

export interface ModelSummary {
  name: string;
  /** Version tags, `latest` not counted. */
  versions: number;
  tags: string[];
  /** The most recently pushed tag. */
  latest?: TagEntry;
}

export interface ModelListing {
  repo: string;
  models: ModelSummary[];
  problems: RepoProblem[];
}

const tagPrefix = (model: string): string => `models/${model}/tags/`;

/** A part of the listing that does not read, as a problem; a storage failure still stops the command. */
export function problemOf(key: string, error: unknown): RepoProblem {
  if (error instanceof StorageError) throw error;
  return { key, message: error instanceof Error ? error.message : String(error) };
}

/** The models under models/ whose names aim accepts; every other folder there is a problem. */
export async function modelNames(repo: Repository, problems: RepoProblem[]): Promise<string[]> {
  const names: string[] = [];
  for (const name of await repo.listModels()) {
    try {
      names.push(checkModelName(name));
    } catch (error) {
      problems.push(problemOf(`models/${name}`, error));
    }
  }
  return names;
}

/** Tag names as the store lists them (no parsing, no name check): what a delete removes. */
export async function tagNames(repo: Repository, model: string): Promise<string[]> {
  const prefix = tagPrefix(checkModelName(model));
  if (!canList(repo.backend)) return publishedTags(repo.backend, model);
  const names: string[] = [];
  for await (const { key } of repo.backend.list(prefix)) {
    const tag = key.slice(prefix.length);
    if (tag !== '' && !tag.includes('/')) names.push(tag);
  }
  return names.sort();
}

/**
 * Tag records read at once: every push rebuilds its model's catalog entry from all its tags, and one read after
 * another made that cost grow with the model's tags (a round trip each on S3).
 */
const TAG_READS_IN_FLIGHT = 16;

/** The model's tags that read back well, oldest first; each tag that does not is a problem (in the tags' name order). */
export async function readableTags(repo: Repository, model: string, problems: RepoProblem[]): Promise<TagEntry[]> {
  const names = await tagNames(repo, model);
  const read: Array<TagEntry | RepoProblem | undefined> = new Array(names.length);
  await forEachConcurrently(names.keys(), TAG_READS_IN_FLIGHT, async (index) => {
    const tag = names[index]!;
    try {
      const record = await repo.getTag(model, checkTagName(tag));
      if (record) read[index] = { ...record, tag };
    } catch (error) {
      read[index] = problemOf(`${tagPrefix(model)}${tag}`, error);
    }
  });
  const tags: TagEntry[] = [];
  for (const entry of read) {
    if (entry === undefined) continue;
    if ('tag' in entry) tags.push(entry);
    else problems.push(entry);
  }
  return tags.sort((a, b) => compareText(String(a.pushedAt), String(b.pushedAt)) || compareText(a.tag, b.tag));
}

/** Every model with its tags; a bad model or tag is left out and reported in `problems`. */
export async function listModelSummaries(repo: Repository): Promise<ModelListing> {
  const problems: RepoProblem[] = [];
  const models: ModelSummary[] = [];
  for (const name of await modelNames(repo, problems)) {
    const tags = await readableTags(repo, name, problems);
    if (tags.length === 0) continue;
    models.push({ name, versions: tags.filter((t) => t.tag !== DEFAULT_TAG).length, tags: tags.map((t) => t.tag), latest: tags.at(-1) });
  }
  return { repo: repo.name, models, problems };
}

/** One model's tags, oldest first; NotFoundError when it has none at all (bad ones are still reported). */
export async function listVersions(repo: Repository, model: string): Promise<{ repo: string; model: string; versions: TagEntry[]; problems: RepoProblem[] }> {
  const problems: RepoProblem[] = [];
  const versions = await readableTags(repo, model, problems);
  if (versions.length === 0 && problems.length === 0) {
    throw new NotFoundError(`model ${model} not found in repository ${repo.name}`, { hint: `aim model list ${repo.name}` });
  }
  return { repo: repo.name, model, versions, problems };
}
