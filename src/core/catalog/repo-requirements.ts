import { parseJsonText, parseValue } from '../format/schemas/parse.js';
import { requirementsSchema, type Requirements } from '../format/schemas/requirements.js';
import { REPO_METADATA_FORMAT } from '../format/schemas/store.js';
import { getBounded } from '../store/bounded-read.js';
import type { Repository } from '../store/repository.js';

// `aim repo require`: a repository's contribution rules live in its aim-repo.json (read by every push), so they
// travel with the repository and bind every pusher, whatever their configuration. Editing them here rather than by
// hand works the same on a folder and on a bucket.

const KEY = 'aim-repo.json';

/** The rules in force, or undefined when the repository sets none (or has never been pushed to). */
export async function readRequirements(repo: Repository): Promise<Requirements | undefined> {
  return (await repo.metadata())?.requires;
}

/** Replaces the rules (undefined: removes them), creating aim-repo.json first for a repository never pushed to. */
export async function writeRequirements(repo: Repository, requires: Requirements | undefined): Promise<Requirements | undefined> {
  await repo.backend.probe('write');
  await repo.ensureMetadata(); // checks the format and chunking this aim knows before anything is rewritten
  const where = `${KEY} in ${repo.location}`;
  // ensureMetadata has read the file whole and checked it: only the keys are taken again, each kept as written
  // (including what a newer aim added).
  const raw = parseJsonText(await getBounded(repo.backend, KEY, REPO_METADATA_FORMAT, where), REPO_METADATA_FORMAT, where) as Record<string, unknown>;
  if (requires) raw.requires = parseValue(requirementsSchema, requires, REPO_METADATA_FORMAT, 'the requirements given');
  else delete raw.requires;
  await repo.backend.put(KEY, Buffer.from(`${JSON.stringify(raw, null, 2)}\n`));
  return readRequirements(repo);
}
