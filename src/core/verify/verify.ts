import type { Digest } from '../format/digest.js';
import { NotFoundError } from '../../lib/errors.js';
import { log, logEnabled } from '../../lib/log.js';
import { HashPool } from '../hashing/hash-pool.js';
import { silentProgress, type ProgressSink } from '../progress.js';
import type { Repository } from '../store/repository.js';
import { dropLocationMapsNaming, VersionLocations } from '../store/locations.js';
import type { ChunkLocations, PackedChunk } from '../store/packs.js';
import { PACKED_READERS, PackReader, planReads, readChunks, type ChunkRead } from './verify-reads.js';
import { DEFAULT_TAG } from '../format/reference.js';
import { modelNames, readableTags, type RepoProblem } from '../store/model-listing.js';
import { bundleMembers } from '../store/bundle-catalog.js';
import { counted } from '../../lib/plural.js';

// Re-reads and re-hashes every chunk reachable from the selected tags, so rot on a disk or a bucket is found before
// a pull needs the bytes. Each problem names the chunk and every file (model:tag/path) that uses it.

export interface VerifyOptions {
  model?: string;
  tag?: string;
  /** Check only this percentage of the chunks (chosen at random), for quick checks of big repositories. */
  samplePercent?: number;
  /**
   * Delete corrupt chunks so the next push of a good copy stores them again (a push skips chunks that are present,
   * and cannot tell a bit-flipped chunk from a good one without reading it back).
   */
  repair?: boolean;
  concurrency?: number;
  progress?: ProgressSink;
  /** These versions instead of tags (a bundle's members); `tag` names each in problems. */
  versions?: TagRef[];
}

export interface VerifyProblem {
  kind: 'missing' | 'corrupt' | 'bad-manifest' | 'missing-manifest' | 'bad-tag';
  digest: Digest | string;
  usedBy: string[];
  message: string;
}

export interface VerifyResult {
  repo: string;
  /** Distinct versions (manifests): two tags naming one version count once. */
  versions: number;
  tags: number;
  chunks: number;
  chunksChecked: number;
  bytesChecked: number;
  problems: VerifyProblem[];
  seconds: number;
}

export interface TagRef {
  model: string;
  tag: string;
  digest: Digest;
}

/** The tags to verify; a model folder or tag that does not read back is a problem, and the others are verified. */
async function selectTags(repo: Repository, options: VerifyOptions, problems: VerifyProblem[]): Promise<TagRef[]> {
  if (options.versions) return options.versions;
  const unreadable: RepoProblem[] = [];
  const models = options.model ? [options.model] : await modelNames(repo, unreadable);
  const selected: TagRef[] = [];
  for (const model of models) {
    for (const record of await readableTags(repo, model, unreadable)) {
      if (!options.tag || record.tag === options.tag) selected.push({ model, tag: record.tag, digest: record.digest });
    }
  }
  // A whole repository: the versions only a bundle keeps (gc keeps them) are checked too, named by the bundle.
  if (!options.model) for (const m of await bundleMembers(repo, unreadable)) selected.push({ model: m.model, tag: `(bundle ${m.bundle})`, digest: m.digest });
  for (const { key, message } of unreadable) problems.push({ kind: 'bad-tag', digest: key, usedBy: [key], message });
  if (options.model && selected.length === 0 && unreadable.length === 0) {
    const what = options.tag ? `tag ${options.tag ?? DEFAULT_TAG} of ${repo.name}/${options.model}` : `model ${options.model} in ${repo.name}`;
    throw new NotFoundError(`${what} not found`, { hint: `aim model versions ${repo.name} ${options.model}` });
  }
  return selected;
}

interface ChunkUse {
  size: number;
  usedBy: Set<string>;
}

interface UsedChunks {
  chunks: Map<Digest, ChunkUse>;
  /** Where they are: the versions' location maps, or the whole index when one version has none. */
  locations: ChunkLocations;
}

/**
 * Every chunk the tags' manifests reference, with the files using it, and where each is stored; an unreadable
 * manifest becomes a problem.
 */
async function chunksUsedBy(repo: Repository, tags: TagRef[], problems: VerifyProblem[], note: (why: string) => void): Promise<UsedChunks> {
  const chunks = new Map<Digest, ChunkUse>();
  const mapped = new Map<Digest, PackedChunk>();
  let whole: ChunkLocations | undefined;
  for (const { model, tag, digest } of tags) {
    const manifest = await repo.getManifest(digest).catch((error: Error) => {
      problems.push({ kind: 'missing-manifest', digest, usedBy: [`${model}:${tag}`], message: error.message });
      return undefined;
    });
    if (manifest && !whole) {
      const locations = await repo.locationsFor(digest, manifest, note);
      if (!(locations instanceof VersionLocations)) whole = locations;
      else for (const file of manifest.files) for (const { digest: chunk } of file.chunks) mapped.set(chunk, locations.lookup(chunk)!);
    }
    for (const file of manifest?.files ?? []) {
      for (const chunk of file.chunks) {
        const entry = chunks.get(chunk.digest) ?? { size: chunk.size, usedBy: new Set<string>() };
        // One digest is one run of bytes: two sizes for it mean a manifest lies about one of them.
        if (entry.size !== chunk.size) {
          const message = `chunk ${chunk.digest} is ${chunk.size} bytes in ${model}:${tag}/${file.path} but ${entry.size} bytes elsewhere`;
          problems.push({ kind: 'bad-manifest', digest, usedBy: [`${model}:${tag}`], message });
        }
        entry.usedBy.add(`${model}:${tag}/${file.path}`);
        chunks.set(chunk.digest, entry);
      }
    }
  }
  return { chunks, locations: whole ?? new VersionLocations(mapped) };
}

/** Hashes one read's chunks and records what is missing, corrupt, or stored with another size than its manifest's. */
async function checkRead(repo: Repository, read: ChunkRead<ChunkUse>, reader: PackReader, pool: HashPool, found: Found): Promise<void> {
  // Only a chunk the store says is not there is missing; any other failure (after the backend's retries) ends the
  // verify, since repair must never drop a good chunk because of a network blip.
  const contents = await readChunks(repo, read, reader, found.locations);
  for (const [i, { digest, size, use }] of read.chunks.entries()) {
    const usedBy = [...use.usedBy].sort();
    const bytes = contents[i];
    if (!bytes) {
      found.problems.push({ kind: 'missing', digest, usedBy, message: `chunk ${digest} is missing` });
    } else {
      const length = bytes.length; // before hashing: the buffer may travel to a worker and come back detached
      found.bytesChecked += length;
      const { digest: actual } = await pool.hashChunk(bytes);
      if (actual !== digest) {
        found.problems.push({ kind: 'corrupt', digest, usedBy, message: `chunk ${digest} is corrupt (hashes to ${actual})` });
      } else if (length !== size) {
        // The stored bytes are the chunk; the manifest's size for it is wrong, and a pull of it would fail.
        const message = `chunk ${digest} is stored with ${length} bytes but the manifest says ${size}`;
        found.problems.push({ kind: 'bad-manifest', digest, usedBy, message });
      }
    }
    found.advance(size);
  }
}

interface Found {
  locations: ChunkLocations;
  problems: VerifyProblem[];
  bytesChecked: number;
  advance(bytes: number): void;
}

/** Reads and hashes the selected chunks, a few reads at a time, each reader with its own reused buffer. */
async function checkChunks(repo: Repository, selected: Array<[Digest, ChunkUse]>, found: Found, concurrency: number): Promise<void> {
  const pool = new HashPool({ wholeFiles: false });
  try {
    const index = found.locations;
    const reads = planReads(selected.map(([digest, use]) => ({ digest, size: use.size, use })), index);
    const queue = reads[Symbol.iterator]();
    const reader = async (): Promise<void> => {
      const buffer = new PackReader();
      for (let next = queue.next(); !next.done; next = queue.next()) await checkRead(repo, next.value, buffer, pool, found);
    };
    const readers = index.size > 0 ? Math.min(concurrency, PACKED_READERS) : concurrency;
    await Promise.all(Array.from({ length: readers }, reader));
  } finally {
    await pool.close();
  }
}

/**
 * Chunks a location map sent verify to the wrong bytes: the whole index locates them elsewhere, and the bytes there
 * are the chunk. The map is wrong, not the chunk: such a chunk must not be dropped (a repair would lose a good copy).
 */
async function misdirectedByMap(repo: Repository, digests: Digest[], locations: ChunkLocations): Promise<Set<Digest>> {
  const good = new Set<Digest>();
  if (!(locations instanceof VersionLocations)) return good;
  const index = await repo.packIndex();
  for (const digest of digests) {
    const mapped = locations.lookup(digest);
    const indexed = index.lookup(digest);
    if (!indexed || (mapped?.pack === indexed.pack && mapped.offset === indexed.offset)) continue;
    if (await repo.getChunk(digest, index).then(() => true, () => false)) good.add(digest);
  }
  return good;
}

/**
 * Forgets damaged and missing chunks (a pack index and the location maps would otherwise go on naming them) and makes
 * pushes stop trusting their record of stored chunks, so pushing a good copy stores them again. Marked before as well
 * as after, so that a push's record is void from the start of the removal. A chunk that was bad only where a location
 * map pointed keeps its place in the index; the maps naming it are deleted.
 */
async function repairChunks(repo: Repository, problems: VerifyProblem[], locations: ChunkLocations, progress: ProgressSink): Promise<void> {
  const chunks = problems.filter((problem) => problem.kind === 'corrupt' || problem.kind === 'missing').map((problem) => problem.digest as Digest);
  const misdirected = await misdirectedByMap(repo, chunks, locations);
  await repo.markRemovals('started');
  try {
    const maps = await repo.removeChunks(new Set(chunks.filter((digest) => !misdirected.has(digest))));
    const wrongMaps = await dropLocationMapsNaming(repo.backend, misdirected);
    if (maps + wrongMaps > 0) progress.note(`deleted ${counted(maps + wrongMaps, 'location map')} naming removed or misplaced chunks: pulls of those versions read the index until they are pushed again`);
  } catch (error) {
    // The removal's own failure is the one that explains a partial repair; a mark that also fails must not hide it.
    await repo.markRemovals().catch(() => undefined);
    throw error;
  }
  await repo.markRemovals();
}

export async function verify(repo: Repository, options: VerifyOptions = {}): Promise<VerifyResult> {
  const started = performance.now();
  const problems: VerifyProblem[] = [];
  const tags = await selectTags(repo, options, problems);
  const progress = options.progress ?? silentProgress;
  const { chunks, locations } = await chunksUsedBy(repo, tags, problems, (why) => progress.note(why));
  let selected = [...chunks.entries()];
  if (options.samplePercent !== undefined && options.samplePercent < 100) {
    selected = selected.filter(() => Math.random() * 100 < options.samplePercent!);
  }
  const total = selected.reduce((sum, [, entry]) => sum + entry.size, 0);
  const task = progress.begin(`verifying ${repo.name}`, total);
  const found: Found = { locations, problems, bytesChecked: 0, advance: (bytes) => task.advance(bytes) };
  try {
    await checkChunks(repo, selected, found, options.concurrency ?? repo.concurrency);
  } finally {
    task.end();
  }
  if (options.repair && problems.length > 0) await repairChunks(repo, problems, locations, progress);
  const versions = logVersions(tags, problems);
  const seconds = (performance.now() - started) / 1000;
  log.info('verify complete', { repo: repo.name, versions, chunks: selected.length, bytes: found.bytesChecked, problems: problems.length, seconds });
  return {
    repo: repo.name,
    versions,
    tags: tags.length,
    chunks: chunks.size,
    chunksChecked: selected.length,
    bytesChecked: found.bytesChecked,
    problems,
    seconds,
  };
}

/** A `version verified` event per distinct version, with the problems found in its files; returns how many. */
function logVersions(tags: TagRef[], problems: VerifyProblem[]): number {
  const names = new Map<Digest, string[]>();
  for (const { model, tag, digest } of tags) names.set(digest, [...(names.get(digest) ?? []), `${model}:${tag}`]);
  if (logEnabled('debug')) {
    for (const [digest, tagged] of names) {
      const ownProblems = problems.filter((problem) => problem.usedBy.some((use) => tagged.some((name) => use === name || use.startsWith(`${name}/`))));
      log.debug('version verified', { digest, tags: tagged.join(','), problems: ownProblems.length });
    }
  }
  return names.size;
}
