import { forEachConcurrently } from '../../lib/concurrently.js';
import { AimError, ConflictError } from '../../lib/errors.js';
import type { Digest } from '../format/digest.js';
import type { Manifest } from '../format/manifest.js';
import { isKeyChunk, keyObjectBody, keyObjectKey, readKeyObject, writeKeyObject } from './keys.js';
import { readLocationMap, writeLocationMap } from './locations.js';
import { modelNames, readableTags, type RepoProblem } from './model-listing.js';
import type { PackIndex } from './packs.js';
import { PACKED_FORMAT, type Repository } from './repository.js';

// `aim repo upgrade`: brings a packed repository written by an older aim up to the keys that let one model's pull,
// verify and push read only what that model needs: a location map for every tagged version that lacks one, and a
// key object for every key chunk of every index file. Both are derived from the whole index, which this reads once
// (a repository-wide command by nature). Everything it writes is additive and idempotent (maps are complete or not
// written, key objects are put-if-absent), so a run that is interrupted is simply run again.

export interface UpgradeFailure {
  digest: Digest;
  /** The tags (model:tag) naming the version. */
  usedBy: string[];
  message: string;
}

export interface UpgradeResult {
  repo: string;
  versionsMapped: number;
  alreadyMapped: number;
  failed: UpgradeFailure[];
  keysWritten: number;
  /** Model folders and tags that do not read back, stepped over. */
  problems: RepoProblem[];
}

export interface UpgradeOptions {
  concurrency?: number;
  /** One line per step and per version mapped. */
  note?: (message: string) => void;
}

/** For `.catch()` on a read of a key aim derives: a damaged or missing one (an AimError) is written again. */
function stepOver(error: unknown): undefined {
  if (error instanceof AimError) return undefined;
  throw error;
}

/** Every manifest a readable tag names, with the tags naming it. */
async function taggedVersions(repo: Repository, problems: RepoProblem[]): Promise<Map<Digest, string[]>> {
  const versions = new Map<Digest, string[]>();
  for (const model of await modelNames(repo, problems)) {
    for (const { tag, digest } of await readableTags(repo, model, problems)) versions.set(digest, [...(versions.get(digest) ?? []), `${model}:${tag}`]);
  }
  return versions;
}

/** The version's chunks that the index does not locate at their manifest size. */
function unlocated(manifest: Manifest, index: PackIndex): number {
  const missing = new Set<Digest>();
  for (const file of manifest.files) for (const { digest, size } of file.chunks) if (index.lookup(digest)?.size !== size) missing.add(digest);
  return missing.size;
}

type MapOutcome = 'mapped' | 'already' | UpgradeFailure;

/**
 * Writes the version's map unless it has a good one. `unchanged` is asked right before the write: a repair that
 * dropped chunks since the index was read would otherwise see its work undone by a map naming them.
 */
async function mapVersion(repo: Repository, digest: Digest, usedBy: string[], index: PackIndex, unchanged: () => Promise<void>): Promise<MapOutcome> {
  let manifest: Manifest;
  try {
    manifest = await repo.getManifest(digest);
    if (await readLocationMap(repo.backend, digest, manifest).catch(stepOver)) {
      return 'already';
    }
  } catch (error) {
    if (!(error instanceof AimError)) throw error;
    return { digest, usedBy, message: error.message };
  }
  await unchanged();
  if (await writeLocationMap(repo.backend, digest, manifest, (chunk) => index.lookup(chunk))) return 'mapped';
  const message = `${unlocated(manifest, index)} of its chunks are in no index file (run \`aim verify ${repo.name}\`)`;
  return { digest, usedBy, message };
}

/**
 * The key object of each key chunk of each index file, naming the first file (by id) that lists it. One that exists
 * is kept unless it names an index file that is gone (a repair replaced it) or does not read: then it is rewritten.
 */
async function writeKeyObjects(repo: Repository, index: PackIndex, concurrency: number): Promise<number> {
  const shards = new Map<Digest, string>();
  for (const id of [...index.files.keys()].sort()) {
    for (const entries of index.files.get(id)!.values()) for (const { digest } of entries) if (isKeyChunk(digest) && !shards.has(digest)) shards.set(digest, id);
  }
  let written = 0;
  await forEachConcurrently(shards, concurrency, async ([digest, shard]) => {
    if (await writeKeyObject(repo.backend, digest, shard)) return void written++;
    const named = await readKeyObject(repo.backend, digest).catch(stepOver);
    if (named && index.files.has(named)) return;
    await repo.backend.put(keyObjectKey(digest), keyObjectBody(shard));
    written++;
  });
  return written;
}

export async function upgradeRepository(repo: Repository, options: UpgradeOptions = {}): Promise<UpgradeResult> {
  const note = options.note ?? (() => undefined);
  const concurrency = options.concurrency ?? repo.concurrency;
  const result: UpgradeResult = { repo: repo.name, versionsMapped: 0, alreadyMapped: 0, failed: [], keysWritten: 0, problems: [] };
  const metadata = await repo.metadata();
  if (metadata?.format !== PACKED_FORMAT) {
    note(`${repo.name} has no packs: there is nothing to upgrade`);
    return result;
  }
  const mark = await repo.removalMark();
  note(`reading the whole index of ${repo.name}`);
  const index = await repo.packIndex();
  const versions = await taggedVersions(repo, result.problems);
  const unchanged = async (): Promise<void> => {
    if ((await repo.removalMark()) === mark) return;
    throw new ConflictError(`chunks were removed from ${repo.location} while it was being upgraded`, { hint: 'run the upgrade again' });
  };
  await forEachConcurrently(versions, concurrency, async ([digest, usedBy]) => {
    const outcome = await mapVersion(repo, digest, usedBy, index, unchanged);
    if (outcome === 'already') result.alreadyMapped++;
    else if (outcome === 'mapped') {
      result.versionsMapped++;
      note(`mapped ${usedBy.join(', ')}`);
    } else result.failed.push(outcome);
  });
  note(`writing key objects for the index files of ${repo.name}`);
  result.keysWritten = await writeKeyObjects(repo, index, concurrency);
  result.failed.sort((a, b) => a.digest.localeCompare(b.digest));
  return result;
}
