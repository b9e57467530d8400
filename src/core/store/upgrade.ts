import { forEachConcurrently } from '../../lib/concurrently.js';
import { AimError, ConflictError } from '../../lib/errors.js';
import type { Digest } from '../format/digest.js';
import { scanIndex, type IndexScan } from './index-scan.js';
import { keyObjectBody, keyObjectKey, readKeyObject, writeKeyObject } from './keys.js';
import { readLocationMap, writeLocationMap } from './locations.js';
import { modelNames, readableTags, type RepoProblem } from './model-listing.js';
import { PACKED_FORMAT, Repository } from './repository.js';
import { counted } from '../../lib/plural.js';
import { compareText } from '../../lib/compare-text.js';

// `aim repo upgrade`: brings a packed repository written by an older aim up to the keys that let one model's pull,
// verify and push read only what that model needs: a location map for every tagged version that lacks one, and a
// key object for every key chunk of every index file. Both are derived from the index files, read once, one at a
// time (a repository-wide command by nature, but its memory follows the versions it maps, not the index). Everything
// it writes is derived and idempotent (a map is complete or not written, key objects are put-if-absent), so a run
// that is interrupted is simply run again.

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

/** For `.catch()` on a read of a key aim derives or of a version: a damaged or missing one is an answer, not a stop. */
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

/**
 * The versions without a good map, and the chunks they use; counts the others as already mapped. A version whose
 * manifest does not read is a failure. Manifests are read again when their maps are written, so that what is held
 * meanwhile is chunk digests, not every manifest.
 */
async function unmappedVersions(repo: Repository, versions: Map<Digest, string[]>, result: UpgradeResult, concurrency: number): Promise<{ unmapped: Digest[]; chunks: Set<Digest> }> {
  const unmapped: Digest[] = [];
  const chunks = new Set<Digest>();
  await forEachConcurrently(versions, concurrency, async ([digest, usedBy]) => {
    const manifest = await repo.getManifest(digest).catch((error: unknown) => {
      if (!(error instanceof AimError)) throw error;
      result.failed.push({ digest, usedBy, message: error.message });
      return undefined;
    });
    if (!manifest) return;
    if (await readLocationMap(repo.backend, digest, manifest).catch(stepOver)) return void result.alreadyMapped++;
    unmapped.push(digest);
    for (const file of manifest.files) for (const chunk of file.chunks) chunks.add(chunk.digest);
  });
  return { unmapped, chunks };
}

/** Writes the version's map from what the scan located; a failure when one of its chunks is not located. */
async function mapVersion(repo: Repository, digest: Digest, usedBy: string[], scan: IndexScan): Promise<UpgradeFailure | undefined> {
  const manifest = await repo.getManifest(digest);
  if (await writeLocationMap(repo.backend, digest, manifest, (chunk) => scan.located.get(chunk))) return undefined;
  const missing = new Set(manifest.files.flatMap((file) => file.chunks.filter((chunk) => scan.located.get(chunk.digest)?.size !== chunk.size).map((chunk) => chunk.digest)));
  return { digest, usedBy, message: `${missing.size} of its chunks are in no index file (run \`aim verify ${repo.name}\`)` };
}

/**
 * The key object of each key chunk, naming the first index file (by id) that lists it. One that exists is kept
 * unless it names an index file that is gone (a repair replaced it) or does not read: then it is written again.
 */
async function writeKeyObjects(repo: Repository, scan: IndexScan, concurrency: number): Promise<number> {
  let written = 0;
  await forEachConcurrently(scan.keyShards, concurrency, async ([digest, shard]) => {
    if (await writeKeyObject(repo.backend, digest, shard)) return void written++;
    const named = await readKeyObject(repo.backend, digest).catch(stepOver);
    if (named && scan.files.has(named)) return;
    await repo.backend.put(keyObjectKey(digest), keyObjectBody(shard));
    written++;
  });
  return written;
}

export async function upgradeRepository(repo: Repository, options: UpgradeOptions = {}): Promise<UpgradeResult> {
  const note = options.note ?? (() => undefined);
  const concurrency = options.concurrency ?? repo.concurrency;
  const result: UpgradeResult = { repo: repo.name, versionsMapped: 0, alreadyMapped: 0, failed: [], keysWritten: 0, problems: [] };
  if ((await repo.metadata())?.format !== PACKED_FORMAT) {
    note(`${repo.name} has no packs: there is nothing to upgrade`);
    return result;
  }
  // A repair that drops chunks after the index was read would see its work undone by a map naming them.
  const mark = await repo.removalMark();
  if (Repository.removalUnderWay(mark)) {
    throw new ConflictError(`a repair of ${repo.location} is under way`, { hint: 'run the upgrade once `aim verify --repair` has ended' });
  }
  const versions = await taggedVersions(repo, result.problems);
  const { unmapped, chunks } = await unmappedVersions(repo, versions, result, concurrency);
  note(`reading the index files of ${repo.name} for ${counted(unmapped.length, 'version')} without a location map`);
  const scan = await scanIndex(repo.backend, chunks);
  chunks.clear();
  await forEachConcurrently(unmapped, concurrency, async (digest) => {
    if ((await repo.removalMark()) !== mark) {
      throw new ConflictError(`chunks were removed from ${repo.location} while it was being upgraded`, { hint: 'run the upgrade again' });
    }
    const usedBy = versions.get(digest)!;
    const failure = await mapVersion(repo, digest, usedBy, scan);
    if (failure) return void result.failed.push(failure);
    result.versionsMapped++;
    note(`mapped ${usedBy.join(', ')}`);
  });
  note(`writing the key objects of ${counted(scan.keyShards.size, 'key chunk')}`);
  result.keysWritten = await writeKeyObjects(repo, scan, concurrency);
  result.failed.sort((a, b) => compareText(a.digest, b.digest));
  return result;
}
