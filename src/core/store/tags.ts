import { supportsConditionalPut } from '../../backends/backend.js';
import { ConflictError, IntegrityError } from '../../lib/errors.js';
import { shortDigest } from '../format/digest.js';
import { DEFAULT_TAG } from '../format/reference.js';
import { parseTag, TAG_FORMAT } from '../format/schemas/store.js';
import { tagKey, type Repository, type TagRecord } from './repository.js';
import { getBounded } from './bounded-read.js';
import { undefinedIfNotFound } from '../../lib/not-found.js';

// Tags are the only mutable keys. A version tag is immutable: moving it to other content needs --force. `latest`
// follows the newest push that changed something. Where the backend can compare-and-swap, the update is one; a
// racing writer then gets a ConflictError instead of silently winning or losing. Elsewhere a new version tag is
// still created with put-if-absent (link(2) on a folder, also on NFS), so of two pushes racing to create the same
// tag exactly one creates it; only moves (--force, `latest`) are last-writer-wins there.

export type TagOutcome = 'created' | 'unchanged' | 'moved';

/** One tag, with the compare-and-swap of a push; `latest` is not touched (aim tag). */
export async function writeTag(repo: Repository, model: string, tag: string, record: TagRecord, force: boolean): Promise<TagOutcome> {
  return writeTagAt(repo, { key: tagKey(model, tag), name: model, tag }, record, force);
}

/** Where a tag lives: a model's (models/<model>/tags/<tag>) or a bundle's (bundles/<name>/tags/<tag>). */
export interface TagPlace {
  key: string;
  name: string;
  tag: string;
}

/** A tag at `place`, written by the same compare-and-swap whatever it names. */
export async function writeTagAt(repo: Repository, place: TagPlace, record: TagRecord, force: boolean): Promise<TagOutcome> {
  const backend = repo.backend;
  const { key, name, tag } = place;
  const body = Buffer.from(`${JSON.stringify(record, null, 2)}\n`);
  const current = supportsConditionalPut(backend) ? await backend.getVersioned(key, TAG_FORMAT.maxBytes) : undefined;
  const where = `${key} in ${repo.location}`;
  const readTag = async () => {
    const bytes = await getBounded(backend, key, TAG_FORMAT, where).catch(undefinedIfNotFound);
    return bytes && parseTag(bytes, where);
  };
  // A tag that does not read names no version anyone could pull: the push writes over it (and so repairs it).
  const existing = await orCorrupt(() => (supportsConditionalPut(backend) ? current && parseTag(current.data, where) : readTag()));
  if (existing === CORRUPT) {
    if (supportsConditionalPut(backend)) await backend.putIfVersion(key, body, current?.version);
    else await backend.put(key, body);
    return 'moved';
  }
  if (existing?.digest === record.digest) return 'unchanged';
  refuseMove(repo, name, tag, existing, record, force);
  if (supportsConditionalPut(backend)) await backend.putIfVersion(key, body, current?.version);
  else if (existing) await backend.put(key, body);
  else if (!(await backend.putIfAbsent(key, body))) {
    // Another push created this tag between our read and our write: decide again against what it wrote.
    return writeTagAt(repo, place, record, force);
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

function refuseMove(repo: Repository, model: string, tag: string, existing: TagRecord | undefined, record: TagRecord, force: boolean): void {
  if (!existing || force || tag === DEFAULT_TAG || existing.digest === record.digest) return;
  throw new ConflictError(
    `tag ${tag} of ${repo.name}/${model} already names other content (${shortDigest(existing.digest)}, new ${shortDigest(record.digest)})`,
    { hint: 'versions are immutable: push under a new tag, or pass --force to move the tag' },
  );
}

/**
 * Points the version tag and `latest` at a new version. `latest` moves first and the version tag last, so a push
 * that stopped in between (killed, a server refusing the write) left its version tag unwritten, and running it
 * again redoes both. The other order would leave the version tag in place and a rerun, finding it "unchanged",
 * would never move `latest`. A `latest` naming a version whose tag is not yet written is harmless: the manifest and
 * every chunk are stored before either tag. A version tag that names other content is refused before anything
 * moves.
 */
export async function updateTags(repo: Repository, model: string, tag: string, record: TagRecord, force: boolean): Promise<TagOutcome> {
  if (tag === DEFAULT_TAG) return writeTag(repo, model, tag, record, force);
  const read = await orCorrupt(() => repo.getTag(model, tag));
  const existing = read === CORRUPT ? undefined : read;
  if (existing?.digest === record.digest) return 'unchanged';
  refuseMove(repo, model, tag, existing, record, force);
  await moveLatest(repo, model, record);
  try {
    return await writeTag(repo, model, tag, record, force);
  } catch (error) {
    if (error instanceof ConflictError) await yieldLatest(repo, model, tag, record);
    throw error;
  }
}

/**
 * `latest` follows whichever push moves it last, so a compare-and-swap that lost to another push (of another tag of
 * the same model, say) is simply tried again against the new value rather than failing this push.
 */
async function moveLatest(repo: Repository, model: string, record: TagRecord): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await writeTag(repo, model, DEFAULT_TAG, record, true);
      return;
    } catch (error) {
      if (!(error instanceof ConflictError) || attempt === 3) throw error;
    }
  }
}

/**
 * After losing the race for a version tag, gives `latest` to the push that won it if `latest` still names ours:
 * the winner moved `latest` before it wrote its tag, so our move may have come after it. A third writer that moved
 * `latest` meanwhile keeps it.
 */
async function yieldLatest(repo: Repository, model: string, tag: string, record: TagRecord): Promise<void> {
  const winner = await repo.getTag(model, tag);
  const latest = await repo.getTag(model, DEFAULT_TAG);
  if (!winner || latest?.digest !== record.digest) return;
  await writeTag(repo, model, DEFAULT_TAG, winner, true).catch((error: unknown) => {
    if (!(error instanceof ConflictError)) throw error;
  });
}
