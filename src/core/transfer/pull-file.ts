import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Backend } from '../../backends/backend.js';
import { writeAtomic } from '../../lib/atomic-write.js';
import { TaskPool } from '../../lib/concurrently.js';
import { digestHex, type Digest } from '../format/digest.js';
import { bufferForDirectWrite, DirectWriter, readFileRange, VIEW_SLACK, viewForPosition } from '../../lib/direct-io.js';
import { IntegrityError } from '../../lib/errors.js';
import type { HashPool } from '../hashing/hash-pool.js';
import type { ManifestFile } from '../format/manifest.js';
import { JOURNAL_FORMAT, journalSchema } from '../format/schemas/local-state.js';
import { parseJsonOrUndefined } from '../format/schemas/parse.js';
import type { ProgressTask } from '../progress.js';
import { PACK_TARGET_BYTES, packKey, type PackedChunk, type PackIndex } from '../store/packs.js';
import { blobKey, type Repository } from '../store/repository.js';

// Rebuilds one file from its chunks into `.aim/partial/<digest>`. Every chunk is checked against its BLAKE3 digest
// before it is written, at the offset the manifest fixes (whose chunk sizes must add up to the file size), so the
// finished file is exactly the verified chunks in order. A journal records how many chunks are on disk, so a pull
// killed at any moment resumes from there instead of from zero; a resumed pull checks those chunks again, on disk,
// and fetches anew from the first one that does not match.
//
// The whole file is not hashed again: every byte of it was just checked in its chunk, and a second BLAKE3 pass over
// the file cost a quarter of a second of a 2.8 s pull of 2 GiB from S3 (0.25 s less wall, 0.3 s less CPU measured).
// A manifest's file digest and its chunk digests come from the same read when it is pushed; a file already in
// place in DEST is still judged by its whole-file digest (verify-file.ts).

const JOURNAL_EVERY_BYTES = 64 * 1024 * 1024;

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
  /** Where packed chunks are (empty for a repository without packs). */
  index: PackIndex;
}

/** Chunks fetched with one request: adjacent in the file and in one pack, or a single chunk. */
interface FetchUnit {
  first: number;
  count: number;
  bytes: number;
  /** Where the first chunk lies on local disk (then the run is local). */
  local?: ChunkSource;
  /** Where the first chunk lies in a pack. */
  packed?: PackedChunk;
}

/**
 * A ranged read of up to half a pack replaces that many chunk requests. Against s3rver, 2 GiB pulled in runs of
 * 8 MiB took 6.3-7.3 s and in runs of 16 MiB (a whole pack) 6.5-8.7 s, with 30-40 MiB more peak RSS (five
 * alternating rounds each, 2026-12-02).
 */
const MAX_RUN_BYTES = PACK_TARGET_BYTES / 2;
/** The largest chunk the default chunking cuts. */
const SINGLE_CHUNK_BUFFER = 4 * 1024 * 1024;

interface Journal {
  chunksDone: number;
  complete: boolean;
}

export const partialPath = (folder: string, file: ManifestFile): string => join(folder, digestHex(file.digest));

/** The journal a previous run left, or a fresh start when there is none or it does not read as one. */
async function readJournal(path: string): Promise<Journal> {
  const fresh = { chunksDone: 0, complete: false };
  const bytes = await readFile(path).catch(() => undefined);
  return parseJsonOrUndefined(journalSchema, bytes, JOURNAL_FORMAT) ?? fresh;
}

/**
 * Buffers for chunks in flight, reused: a new buffer per chunk makes a big pull spend a sixth of its time in the
 * garbage collector. Each is page-aligned memory, handed out as a view that sits where the bytes go in their block of
 * the file, so the direct write of a fetched run takes its whole blocks in place (viewForPosition). A view is never its
 * buffer's whole memory, so a hashing worker (AIM_HASH=wasm) gets a copy and never takes the buffer away.
 */
export class ChunkBuffers {
  private readonly free: Buffer[] = [];
  /** The whole buffer behind each view handed out. */
  private readonly bases = new WeakMap<ArrayBufferLike, Buffer>();

  /**
   * `capacity`: the size of each new buffer for runs of chunks, so that any free one fits whatever run comes next.
   * Each new big buffer also pushes V8 towards a full collection (91 of them in one 2 GiB pull when runs of varied
   * sizes kept missing the free ones). Single chunks get buffers of the largest chunk size.
   */
  constructor(private readonly capacity = SINGLE_CHUNK_BUFFER) {}

  /** Buffers sized for runs of chunks when `index` names packs or `locator` chunks on disk, for single chunks otherwise. */
  static for(index: PackIndex, locator: Map<Digest, ChunkSource>): ChunkBuffers {
    return new ChunkBuffers(index.size > 0 || locator.size > 0 ? MAX_RUN_BYTES : undefined);
  }

  /** `size` bytes for data that will be written at file offset `position`. */
  take(size: number, position = 0): Buffer {
    const index = this.free.findIndex((buffer) => buffer.length >= size + VIEW_SLACK);
    const fresh = size > SINGLE_CHUNK_BUFFER ? Math.max(size, this.capacity) : SINGLE_CHUNK_BUFFER;
    const base = index >= 0 ? this.free.splice(index, 1)[0]! : bufferForDirectWrite(fresh + VIEW_SLACK);
    const view = viewForPosition(base, position, size);
    this.bases.set(view.buffer, base);
    return view;
  }

  give(view: Buffer): void {
    const base = this.bases.get(view.buffer);
    if (base) this.free.push(base);
  }
}

/** What readFileRange reads of a file already on local disk; 0 when it is gone or unreadable. */
async function readLocalCopy(source: ChunkSource, target: Buffer): Promise<number> {
  return readFileRange(source.path, target, source.offset).catch(() => 0); // its chunks then come from the repository
}

/** The chunk's verified bytes from the repository, read into `target` (its exact size); a hashing worker returns a copy. */
async function fetchChunk(context: PullFileContext, digest: Digest, target: Buffer): Promise<Buffer> {
  const packed = context.index.lookup(digest);
  const bytes = await readStored(context.repo.backend, packed ? packKey(packed.pack) : blobKey(digest), target, packed?.offset);
  const checked = bytes && (await context.pool.hashChunk(bytes));
  if (!checked || checked.digest !== digest) return explainBadChunk(context.repo, digest);
  context.counters.bytesTransferred += target.length;
  return checked.bytes;
}

/**
 * Exactly `target.length` stored bytes of `key` from `offset` (the whole object when it is undefined), in `target`
 * when the backend can read into it; undefined when they cannot all be read (the caller explains why).
 */
async function readStored(backend: Backend, key: string, target: Buffer, offset?: number): Promise<Buffer | undefined> {
  const read = backend.readInto
    ? backend.readInto(key, target, offset).then((count) => (count === target.length ? target : undefined))
    : backend.getRange(key, offset ?? 0, target.length);
  const bytes = await read.catch(() => undefined);
  return bytes?.length === target.length ? bytes : undefined;
}

/** Throws the repository's own error for a chunk that failed its check (missing or corrupt, with its hint). */
async function explainBadChunk(repo: Repository, digest: Digest): Promise<never> {
  await repo.getChunk(digest);
  throw new IntegrityError(`chunk ${digest} changed while it was read`, { hint: 'run the pull again' });
}

/**
 * The chunks from `first` on that one read can fetch: a run of chunks lying back to back in one local file (the
 * installed older version) or in one pack, in the order the file needs them, up to MAX_RUN_BYTES; or one chunk.
 */
function nextUnit(file: ManifestFile, first: number, context: PullFileContext): FetchUnit {
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
  if (!bytes) return explainBadChunk(context.repo, file.chunks[unit.first]!.digest);
  // The slices of what was read (a backend without readInto returns its own buffer). Several chunks share it, so
  // each slice is copied if it travels to a hashing worker.
  const slices = slicesOf(file, unit, bytes);
  const checks = slices.map(({ digest, slice }) => context.pool.hashChunk(slice).then((checked) => checked.digest === digest));
  const bad = (await Promise.all(checks)).indexOf(false);
  if (bad >= 0) return explainBadChunk(context.repo, slices[bad]!.digest);
  context.counters.bytesTransferred += unit.bytes;
  return bytes!;
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
function fetchUnit(context: PullFileContext, file: ManifestFile, unit: FetchUnit, buffer: Buffer): Promise<Buffer> {
  if (unit.local) return fetchLocalRun(context, file, unit, buffer);
  if (unit.packed && unit.count > 1) return fetchRun(context, file, unit, buffer);
  return fetchChunk(context, file.chunks[unit.first]!.digest, buffer.subarray(0, unit.bytes));
}

/**
 * How many of the first `claimed` chunks a previous run left on disk still match their digests: the journal may
 * claim more than reached the disk (it is not fsynced, and a power cut can lose the tail) or the bytes may have been
 * damaged since. Stops at the first chunk that does not match; the pull fetches from there.
 */
async function verifiedPrefix(handle: FileHandle, file: ManifestFile, offsets: number[], claimed: number, context: PullFileContext): Promise<number> {
  for (let index = 0; index < claimed; index++) {
    const chunk = file.chunks[index]!;
    const buffer = context.buffers.take(chunk.size);
    try {
      const target = buffer.subarray(0, chunk.size);
      const { bytesRead } = await handle.read(target, 0, chunk.size, offsets[index]!);
      if (bytesRead !== chunk.size || (await context.pool.hashChunk(target)).digest !== chunk.digest) return index;
    } finally {
      context.buffers.give(buffer);
    }
  }
  return claimed;
}

/** Byte offset where each chunk starts; the last entry is the file size. */
function chunkOffsets(file: ManifestFile): number[] {
  const offsets = [0];
  for (const chunk of file.chunks) offsets.push(offsets[offsets.length - 1]! + chunk.size);
  return offsets;
}

interface PartialWriter {
  file: ManifestFile;
  context: PullFileContext;
  handle: FileHandle;
  /** Where the chunks' bytes go: around the page cache where the file system allows it. */
  writer: DirectWriter;
  offsets: number[];
  journalPath: string;
}

/**
 * Records chunks as written: progress advances over the contiguous prefix of written chunks, and every
 * JOURNAL_EVERY_BYTES of it the journal says so and writeback of the file starts.
 */
function journalStepper(partial: PartialWriter, done: number) {
  const { file, context, handle, offsets, journalPath } = partial;
  const finished = new Set<number>();
  let journaled = offsets[done]!;
  let journaling: Promise<void> = Promise.resolve();
  // Writeback starts while chunks still arrive (one fdatasync at a time, at each journal step) instead of all at
  // the final fsync, which then waits only for the last stretch. Linux only: elsewhere (macOS) a datasync also
  // flushes the drive's own cache.
  let flushing: Promise<unknown> | undefined;
  const state = { flushFailure: undefined as unknown };
  const finish = (index: number): void => {
    finished.add(index);
    while (finished.delete(done)) {
      context.task.advance(file.chunks[done]!.size);
      done++;
    }
    if (offsets[done]! - journaled < JOURNAL_EVERY_BYTES) return;
    // No fsync here: a killed process loses nothing from the page cache, and after a power cut a journal that
    // claims more than reached the disk only costs a re-download (the resumed pull checks those chunks again).
    const record = JSON.stringify({ chunksDone: done, complete: false });
    journaling = journaling.then(() => writeAtomic(journalPath, record, { durable: false }));
    journaling.catch(() => undefined); // reported where it is awaited, after the loop
    journaled = offsets[done]!;
    if (process.platform === 'linux') {
      flushing ??= handle
        .datasync()
        .catch((error: unknown) => (state.flushFailure ??= error))
        .finally(() => (flushing = undefined));
    }
  };
  /** Waits for the journal writes and the flush under way; a failed journal write is thrown. */
  const settled = async (): Promise<void> => {
    await journaling;
    await flushing;
  };
  return { finish, settled, state };
}

/**
 * Fetches the chunks from index `done` on, several at a time. Each chunk is written at its offset as soon as it is
 * verified, so writes overlap; the journal records the contiguous prefix of chunks written. A chunk's buffer goes
 * back to the pool once written, and a chunk counts as in flight until then, so at most `concurrency` buffers are held.
 */
async function writeChunks(partial: PartialWriter, done: number): Promise<void> {
  const { file, context, offsets } = partial;
  const journal = journalStepper(partial, done);
  const fetches = new TaskPool(context.concurrency);
  // Reads in flight are bounded by count and by bytes: a run of packed chunks is up to 8 MiB, and a unit starts
  // only once it fits. Five runs at once were the fastest of three, five and eight, from S3 and from a folder
  // (docs/benchmarks.md).
  const byteBudget = Math.max(5 * MAX_RUN_BYTES, context.concurrency * 1024 * 1024);
  let bytesInFlight = 0;
  for (let first = done; first < file.chunks.length && !fetches.failure && !journal.state.flushFailure; ) {
    const unit = nextUnit(file, first, context);
    first += unit.count;
    await fetches.room(() => bytesInFlight + unit.bytes <= byteBudget);
    if (fetches.failure || journal.state.flushFailure) break;
    const buffer = context.buffers.take(unit.bytes, offsets[unit.first]!);
    bytesInFlight += unit.bytes;
    fetches.start(async () => {
      try {
        await partial.writer.write(await fetchUnit(context, file, unit, buffer), offsets[unit.first]!);
        for (let index = unit.first; index < unit.first + unit.count; index++) journal.finish(index);
      } finally {
        bytesInFlight -= unit.bytes;
        context.buffers.give(buffer);
      }
    });
  }
  await fetches.settle();
  await journal.settled();
  const failure = fetches.failure ?? (journal.state.flushFailure ? { error: journal.state.flushFailure } : undefined);
  if (failure) throw failure.error;
}

export async function pullFile(file: ManifestFile, folder: string, context: PullFileContext): Promise<string> {
  const temp = partialPath(folder, file);
  const journalPath = `${temp}.journal`;
  const journal = await readJournal(journalPath);
  const offsets = chunkOffsets(file);
  const existing = await stat(temp).catch(() => undefined);
  // A complete journal (the run was killed while renaming files into place) is checked like any other.
  const claimed = existing ? Math.min(journal.complete ? file.chunks.length : journal.chunksDone, file.chunks.length) : 0;
  const handle = await open(temp, existing ? 'r+' : 'w');
  try {
    const done = await verifiedPrefix(handle, file, offsets, claimed, context);
    context.task.advance(offsets[done]!);
    const writer = await DirectWriter.open(temp, handle, file.size, offsets[done]!);
    try {
      await writeChunks({ file, context, handle, writer, offsets, journalPath }, done);
      await writer.finish();
    } finally {
      await writer.close().catch(() => undefined);
    }
    await handle.truncate(file.size);
    await handle.sync();
  } finally {
    await handle.close().catch(() => undefined);
  }
  await writeAtomic(journalPath, JSON.stringify({ chunksDone: file.chunks.length, complete: true }), { durable: false });
  return temp;
}
