import type { Backend } from '../../backends/backend.js';
import { readFileRange } from '../../lib/direct-io.js';
import { IntegrityError } from '../../lib/errors.js';
import type { Digest } from '../format/digest.js';
import type { ManifestFile } from '../format/manifest.js';
import type { HashPool } from '../hashing/hash-pool.js';
import type { ProgressTask } from '../progress.js';
import { packKey, type ChunkLocations, type PackedChunk } from '../store/packs.js';
import { blobKey, type Repository } from '../store/repository.js';
import { MAX_RUN_BYTES, type ChunkBuffers } from './chunk-buffers.js';
import type { RunSlot, VerifiedRuns } from './verified-runs.js';

// Where a pulled file's chunks come from, and their bytes checked: in runs from a file already on local disk (the
// installed older version), in runs from one pack with one ranged read, or one chunk at a time. Every chunk is
// checked against its BLAKE3 digest before the caller may write it.

export interface ChunkSource {
  path: string;
  offset: number;
}

export interface PullCounters {
  bytesTransferred: number;
  bytesReused: number;
}

export interface PullFileContext {
  repo: Repository;
  pool: HashPool;
  /** Chunks available in files already on disk (the installed older version). */
  locator: Map<Digest, ChunkSource>;
  counters: PullCounters;
  task: ProgressTask;
  concurrency: number;
  buffers: ChunkBuffers;
  /** Where the version's packed chunks are (empty for a repository without packs). */
  index: ChunkLocations;
  /** Checks runs read from packs on a worker thread (a folder repository, with native BLAKE3); else undefined. */
  runs?: VerifiedRuns;
}

/** Chunks fetched with one request: adjacent in the file and in one pack, or a single chunk. */
export interface FetchUnit {
  first: number;
  count: number;
  bytes: number;
  /** Where the first chunk lies on local disk (then the run is local). */
  local?: ChunkSource;
  /** Where the first chunk lies in a pack. */
  packed?: PackedChunk;
}

/** What readFileRange reads of a file already on local disk; 0 when it is gone or unreadable. */
export async function readLocalCopy(source: ChunkSource, target: Buffer): Promise<number> {
  return readFileRange(source.path, target, source.offset).catch(() => 0); // its chunks then come from the repository
}

/** The chunk's verified bytes from the repository, read into `target` (its exact size); a hashing worker returns a copy. */
export async function fetchChunk(context: PullFileContext, digest: Digest, target: Buffer): Promise<Buffer> {
  const packed = context.index.lookup(digest);
  const bytes = await readStored(context.repo.backend, packed ? packKey(packed.pack) : blobKey(digest), target, packed?.offset);
  const checked = bytes && (await context.pool.hashChunk(bytes));
  if (!checked || checked.digest !== digest) return explainBadChunk(context, digest);
  context.counters.bytesTransferred += target.length;
  return checked.bytes;
}

/**
 * Exactly `target.length` stored bytes of `key` from `offset` (the whole object when it is undefined), in `target`
 * when the backend can read into it; undefined when they cannot all be read (the caller explains why).
 */
export async function readStored(backend: Backend, key: string, target: Buffer, offset?: number): Promise<Buffer | undefined> {
  const read = backend.readInto
    ? backend.readInto(key, target, offset).then((count) => (count === target.length ? target : undefined))
    : backend.getRange(key, offset ?? 0, target.length);
  const bytes = await read.catch(() => undefined);
  return bytes?.length === target.length ? bytes : undefined;
}

/** Throws the repository's own error for a chunk that failed its check (missing or corrupt, with its hint). */
export async function explainBadChunk({ repo, index }: PullFileContext, digest: Digest): Promise<never> {
  await repo.getChunk(digest, index);
  throw new IntegrityError(`chunk ${digest} changed while it was read`, { hint: 'run the pull again' });
}

/**
 * The chunks from `first` on that one read can fetch: a run of chunks lying back to back in one local file (the
 * installed older version) or in one pack, in the order the file needs them, up to MAX_RUN_BYTES; or one chunk.
 */
export function nextUnit(file: ManifestFile, first: number, context: PullFileContext): FetchUnit {
  const localAt = (index: number): ChunkSource | undefined => context.locator.get(file.chunks[index]!.digest);
  const packedAt = (index: number): PackedChunk | undefined => {
    const packed = context.index.lookup(file.chunks[index]!.digest);
    return packed?.size === file.chunks[index]!.size ? packed : undefined;
  };
  const local = localAt(first);
  const packed = local ? undefined : packedAt(first);
  const unit: FetchUnit = { first, count: 1, bytes: file.chunks[first]!.size, local, packed };
  const follows = (index: number): boolean => {
    if (local) {
      const next = localAt(index);
      return next?.path === local.path && next.offset === local.offset + unit.bytes;
    }
    const next = localAt(index) ? undefined : packedAt(index);
    return next !== undefined && next.pack === packed!.pack && next.offset === packed!.offset + unit.bytes;
  };
  while ((local ?? packed) && first + unit.count < file.chunks.length) {
    const next = first + unit.count;
    if (!follows(next) || unit.bytes + file.chunks[next]!.size > MAX_RUN_BYTES) break;
    unit.count++;
    unit.bytes += file.chunks[next]!.size;
  }
  return unit;
}

/** The slices of `bytes` that hold the unit's chunks, each with its chunk. */
function slicesOf(file: ManifestFile, unit: FetchUnit, bytes: Buffer): Array<{ digest: Digest; slice: Buffer }> {
  let offset = 0;
  return file.chunks.slice(unit.first, unit.first + unit.count).map((chunk) => {
    const slice = bytes.subarray(offset, offset + chunk.size);
    offset += chunk.size;
    return { digest: chunk.digest, slice };
  });
}

/** A run's verified bytes, read from its pack with one ranged request; each chunk is checked on its own. */
async function fetchRun(context: PullFileContext, file: ManifestFile, unit: FetchUnit, buffer: Buffer): Promise<Buffer> {
  const bytes = await readStored(context.repo.backend, packKey(unit.packed!.pack), buffer.subarray(0, unit.bytes), unit.packed!.offset);
  if (!bytes) return explainBadChunk(context, file.chunks[unit.first]!.digest);
  // The slices of what was read (a backend without readInto returns its own buffer). Several chunks share it, so
  // each slice is copied if it travels to a hashing worker.
  const slices = slicesOf(file, unit, bytes);
  const checks = slices.map(({ digest, slice }) => context.pool.hashChunk(slice).then((checked) => checked.digest === digest));
  const bad = (await Promise.all(checks)).indexOf(false);
  if (bad >= 0) return explainBadChunk(context, slices[bad]!.digest);
  context.counters.bytesTransferred += unit.bytes;
  return bytes!;
}

/** Whether `unit` is read and checked in a slot of `context.runs` (fetchCheckedRun) rather than in a chunk buffer. */
export const checksOnWorker = (context: PullFileContext, unit: FetchUnit): boolean => context.runs !== undefined && unit.packed !== undefined && unit.count > 1;

/**
 * A run's verified bytes, read from its pack into `slot` and checked on the worker (verified-runs.ts); they sit at
 * `position`'s place in a block, ready for the direct write at file offset `position`.
 */
export async function fetchCheckedRun(context: PullFileContext, file: ManifestFile, unit: FetchUnit, slot: RunSlot, position: number): Promise<Buffer> {
  const { pack, offset } = unit.packed!;
  const chunks = file.chunks.slice(unit.first, unit.first + unit.count);
  if (!(await readStored(context.repo.backend, packKey(pack), slot.landing(offset, unit.bytes), offset))) return explainBadChunk(context, chunks[0]!.digest);
  const { digests, bytes } = await slot.check(offset, chunks.map((chunk) => chunk.size), position);
  const bad = chunks.findIndex((chunk, index) => digests[index] !== chunk.digest);
  if (bad >= 0) return explainBadChunk(context, chunks[bad]!.digest);
  context.counters.bytesTransferred += unit.bytes;
  return bytes;
}

/**
 * A run's verified bytes from a file already on local disk, read at once; each chunk is checked on its own, and one
 * that does not match (the file changed since it was installed) comes from the repository instead.
 */
async function fetchLocalRun(context: PullFileContext, file: ManifestFile, unit: FetchUnit, buffer: Buffer): Promise<Buffer> {
  const bytes = buffer.subarray(0, unit.bytes);
  const read = await readLocalCopy(unit.local!, bytes);
  let end = 0;
  const checks = slicesOf(file, unit, bytes).map(async ({ digest, slice }) => {
    const size = slice.length;
    end += size;
    const checked = end <= read ? await context.pool.hashChunk(slice) : undefined;
    if (checked?.digest === digest) {
      context.counters.bytesReused += size;
      return;
    }
    const fetched = await fetchChunk(context, digest, slice);
    if (fetched !== slice) slice.set(fetched); // a hashing worker's copy
  });
  await Promise.all(checks);
  return bytes;
}

/** The unit's verified bytes, ready to write at the file offset of its first chunk. */
export function fetchUnit(context: PullFileContext, file: ManifestFile, unit: FetchUnit, buffer: Buffer): Promise<Buffer> {
  if (unit.local) return fetchLocalRun(context, file, unit, buffer);
  if (unit.packed && unit.count > 1) return fetchRun(context, file, unit, buffer);
  return fetchChunk(context, file.chunks[unit.first]!.digest, buffer.subarray(0, unit.bytes));
}
