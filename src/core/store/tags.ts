import { supportsConditionalPut } from '../../backends/backend.js';
import { ConflictError, IntegrityError } from '../../lib/errors.js';
import { shortDigest } from '../format/digest.js';
import { DEFAULT_TAG } from '../format/reference.js';
import { parseTag } from '../format/schemas/store.js';
import { tagKey, type Repository, type TagRecord } from './repository.js';

// Tags are the only mutable keys. A version tag is immutable: moving it to other content needs --force. `latest`
// follows the newest push that changed something. Where the backend can compare-and-swap, the update is one; a
// racing writer then gets a ConflictError instead of silently winning or losing. Elsewhere a new version tag is
// still created with put-if-absent (link(2) on a folder, also on NFS), so of two pushes racing to create the same
// tag exactly one creates it; only moves (--force, `latest`) are last-writer-wins there.

export type TagOutcome = 'created' | 'unchanged' | 'moved';

async function writeTag(repo: Repository, model: string, tag: string, record: TagRecord, force: boolean): Promise<TagOutcome> {
  const backend = repo.backend;
  const key = tagKey(model, tag);
  const body = Buffer.from(`${JSON.stringify(record, null, 2)}\n`);
  const current = supportsConditionalPut(backend) ? await backend.getVersioned(key) : undefined;
  const where = `${key} in ${repo.location}`;
  // A tag that does not read names no version anyone could pull: the push writes over it (and so repairs it).
  const existing = await orCorrupt(() => (supportsConditionalPut(backend) ? current && parseTag(current.data, where) : repo.getTag(model, tag)));
  if (existing === CORRUPT) {
    if (supportsConditionalPut(backend)) await backend.putIfVersion(key, body, current?.version);
    else await repo.putTag(model, tag, record);
    return 'moved';
  }
  if (existing?.digest === record.digest) return 'unchanged';
  if (existing && !force && tag !== DEFAULT_TAG) {
    throw new ConflictError(
      `tag ${tag} of ${repo.name}/${model} already names other content (${shortDigest(existing.digest)}, new ${shortDigest(record.digest)})`,
      { hint: 'versions are immutable: push under a new tag, or pass --force to move the tag' },
    );
  }
  if (supportsConditionalPut(backend)) await backend.putIfVersion(key, body, current?.version);
  else if (existing) await repo.putTag(model, tag, record);
  else if (!(await backend.putIfAbsent(key, body))) {
    // Another push created this tag between our read and our write: decide again against what it wrote.
    return writeTag(repo, model, tag, record, force);
  }
  return existing ? 'moved' : 'created';
}

const CORRUPT = Symbol('corrupt');

async function orCorrupt<T>(read: () => T | Promise<T>): Promise<T | typeof CORRUPT> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof IntegrityError) return CORRUPT;
    throw error;
  }
}

export async function updateTags(repo: Repository, model: string, tag: string, record: TagRecord, force: boolean): Promise<TagOutcome> {
  const outcome = await writeTag(repo, model, tag, record, force);
  if (tag !== DEFAULT_TAG && outcome !== 'unchanged') await writeTag(repo, model, DEFAULT_TAG, record, true);
  return outcome;
}
