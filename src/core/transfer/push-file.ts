import { cutChunks, readChunks } from '../chunking/chunk-reader.js';
import { forEachConcurrently, type TaskPool } from '../../lib/concurrently.js';
import { ChunkingWorker, type ChunkSource, type SourceChunk } from '../chunking/parallel-chunk-reader.js';
import type { Chunker } from '../chunking/chunker.js';
import type { Digest } from '../format/digest.js';
import type { FileDigester, HashPool } from '../hashing/hash-pool.js';
import type { ChunkRef, ManifestFile } from '../format/manifest.js';
import type { ProgressTask } from '../progress.js';
import type { PackWriter } from '../store/pack-writer.js';
import type { PushLocations } from '../store/push-locations.js';
import type { Repository } from '../store/repository.js';
import type { CachedFile } from './stat-cache.js';
import type { SourceFile } from './walk.js';
import { ConflictError } from '../../lib/errors.js';
import { log } from '../../lib/log.js';
import type { TagGuard } from './push-guard.js';
import type { Preloaded } from './prefetch.js';
import type { TinyRead } from './tiny-file-reader.js';

export interface TransferCounters {
  bytesTransferred: number;
  bytesSkipped: number;
  chunks: number;
  /** Chunks already handled in this push: a chunk repeated across files is checked and sent once. */
  seen: Set<Digest>;
}

export interface PushFileContext {
  chunker: Chunker;
  pool: HashPool;
  counters: TransferCounters;
  task: ProgressTask;
  concurrency: number;
  /**
   * Chunk work in flight across files: a file is done once its chunks are hashed, while their uploads may still run
   * beside the next file's. Small files then overlap their writes (and fsyncs, or S3 round trips) instead of waiting
   * in line; at most `concurrency` chunks are in flight in all, so memory stays bounded.
   */
  pipeline: TaskPool;
  /** Whether the cached file's chunks are known stored: its manifest is there and no chunk was removed since. */
  chunksStoredBy(cached: CachedFile): Promise<boolean>;
  /** The manifests whose word was taken for cached files' chunks: where those chunks are is read from their maps. */
  vouchers: Set<Digest>;
  /** Where a packed repository's chunks are, as far as this push knows (undefined for one that keeps a file per chunk). */
  locations?: PushLocations;
  /** Cuts big files on worker threads; undefined when tests run the TypeScript sources, or with AIM_CDC=inline. */
  bigFileReader(): ChunkingWorker | undefined;
  /**
   * Gathers new chunks into packs, opened at the first chunk to check (taking in the packs of killed pushes), so an
   * unchanged re-push reads none; undefined for a repository that keeps a file per chunk.
   */
  packs?: () => Promise<PackWriter>;
  /** The version the tag already names, when the push must produce exactly it (no --force): checked per chunk. */
  guard?: TagGuard;
}

async function storeChunk(repo: Repository, digest: Digest, bytes: Buffer, context: PushFileContext): Promise<void> {
  const { counters, packs } = context;
  if (counters.seen.has(digest)) {
    counters.bytesSkipped += bytes.length;
    return;
  }
  counters.seen.add(digest);
  // Opened before the first question, so that chunks in packs a killed push left behind count as stored.
  const writer = await packs?.();
  // Asking first (what this push knows of the packs, or a stat/HEAD per loose chunk) saves sending bytes the store
  // already has: dedupe and resume in one step.
  if (await isStored(repo, digest, bytes.length, context)) {
    counters.bytesSkipped += bytes.length;
    return;
  }
  if (writer) {
    await writer.add(digest, bytes);
    counters.bytesTransferred += bytes.length;
    log.trace('chunk stored', { digest, size: bytes.length });
    return;
  }
  const written = await repo.putBlob(digest, bytes);
  if (written) counters.bytesTransferred += bytes.length;
  else counters.bytesSkipped += bytes.length;
  if (written) log.trace('chunk stored', { digest, size: bytes.length });
}

function isStored(repo: Repository, digest: Digest, size: number, context: PushFileContext): Promise<boolean> {
  return context.locations ? context.locations.has(digest, size) : repo.hasChunk(digest, size);
}

/** Chunks of a file without a chunking worker (a small one, or with AIM_CDC=inline), cut as they are read; the caller hashes them. */
function inlineSource(path: string, chunker: Chunker): ChunkSource {
  async function* chunks(): AsyncGenerator<SourceChunk> {
    for await (const bytes of readChunks(path, chunker)) yield { bytes };
  }
  return { chunks: chunks(), fileDigest: () => undefined };
}

/** The chunks of a file read ahead whole (views of its bytes), with their digests and the file's when known. */
function preloadedSource(chunks: SourceChunk[], fileDigest?: Digest): ChunkSource {
  async function* each(): AsyncGenerator<SourceChunk> {
    yield* chunks;
  }
  return { chunks: each(), fileDigest: () => fileDigest };
}

/** A tiny file a worker thread read, cut and hashed: its chunks as views of its bytes. */
function tinyReadChunks({ bytes, chunks }: TinyRead): SourceChunk[] {
  let at = 0;
  return chunks.map(({ size, digest }) => ({ bytes: bytes.subarray(at, (at += size)), digest }));
}

/** What a file's chunks add up to while they are read: their list, size, and the hashing still under way. */
export interface FileInProgress {
  path: string;
  chunks: ChunkRef[];
  size: number;
  /** Settles when each chunk is hashed; keeps no reference to the chunk's bytes. */
  hashing: Array<Promise<unknown>>;
  /** The whole-file hash, when the chunks arrive without digests and it is computed here. */
  fileDigester?: FileDigester;
  /**
   * The file is its one chunk, so its digest is the chunk's: BLAKE3 of the same bytes from the same offset (0). The
   * file is then hashed once, not twice.
   */
  oneChunk?: boolean;
}

const noop = (): void => undefined;

/**
 * Reads the file once: chunks go to the hashing workers and, when missing, to the backend, while the same bytes feed
 * the whole-file hash. At most `concurrency` chunks are in flight, so memory does not grow with the file.
 * `preloaded`: the file's bytes when they were read ahead (FilePrefetch), maybe already cut and hashed.
 */
export async function pushFile(repo: Repository, file: SourceFile, context: PushFileContext, preloaded?: Preloaded): Promise<ManifestFile> {
  if (preloaded) {
    const chunks = Buffer.isBuffer(preloaded) ? [...cutChunks(preloaded, context.chunker)].map((bytes) => ({ bytes })) : tinyReadChunks(preloaded);
    return chunks.length === 1
      ? pushOneChunk(repo, file, chunks[0]!, context)
      : pushSource(repo, file, preloadedSource(chunks, Buffer.isBuffer(preloaded) ? undefined : preloaded.fileDigest), context);
  }
  const worker = ChunkingWorker.worthIt(file.size) ? context.bigFileReader() : undefined;
  return pushSource(repo, file, worker ? worker.read(file.absolute) : inlineSource(file.absolute, context.chunker), context);
}

export const fileInProgress = (path: string): FileInProgress => ({ path, chunks: [], size: 0, hashing: [] });

/**
 * Stores the chunks `source` yields as the file `file` describes (`absolute` names it in messages). `progress` is
 * the caller's when it needs the chunk list while the file is under way (a download checkpointing what is stored).
 */
export async function pushSource(
  repo: Repository,
  file: Pick<SourceFile, 'path' | 'absolute' | 'size' | 'mode'>,
  source: ChunkSource,
  context: PushFileContext,
  progress = fileInProgress(file.path),
): Promise<ManifestFile> {
  const { pipeline } = context;
  for await (const chunk of source.chunks) {
    if (pipeline.failure) {
      chunk.release?.();
      break;
    }
    await startChunk(repo, chunk, progress, context);
    await pipeline.room();
  }
  return finishFile(file, progress, source.fileDigest(), context);
}

/** A file read ahead whole that is a single chunk: the chunk is hashed (unless it was) and stored without a stream of chunks. */
async function pushOneChunk(repo: Repository, file: SourceFile, chunk: SourceChunk, context: PushFileContext): Promise<ManifestFile> {
  const progress: FileInProgress = { ...fileInProgress(file.path), oneChunk: true };
  if (!context.pipeline.failure) await startChunk(repo, chunk, progress, context);
  await context.pipeline.room();
  return finishFile(file, progress, undefined, context);
}

/** Once every chunk of the file is hashed: its manifest entry, or why it cannot have one. */
async function finishFile(file: Pick<SourceFile, 'path' | 'absolute' | 'size' | 'mode'>, progress: FileInProgress, known: Digest | undefined, context: PushFileContext): Promise<ManifestFile> {
  await Promise.all(progress.hashing);
  const failure = context.pipeline.failure;
  if (failure) throw failure.error;
  const digest = known ?? (progress.oneChunk ? progress.chunks[0]!.digest : await (progress.fileDigester ?? (await context.pool.fileDigester())).digest());
  if (progress.size !== file.size) {
    throw new ConflictError(`${file.absolute} changed while it was being pushed (${file.size} bytes, then ${progress.size})`, {
      hint: 'push again once nothing is writing to it',
    });
  }
  return { path: file.path, size: progress.size, mode: file.mode, digest, chunks: progress.chunks };
}

/** Adds the chunk to the file's list, and starts its hashing (unless it came hashed) and storing in the pipeline. */
async function startChunk(repo: Repository, chunk: SourceChunk, progress: FileInProgress, context: PushFileContext): Promise<void> {
  const { bytes, digest: known, release } = chunk;
  const index = progress.chunks.length;
  const length = bytes.length;
  progress.chunks.push({ digest: known ?? ('' as Digest), size: length });
  progress.size += length;
  // Chunks that arrive without digests are hashed here; the whole-file hash copies them now, before a chunk may
  // be transferred to a hashing worker.
  const hashFile = !known && !progress.oneChunk;
  if (hashFile) progress.fileDigester ??= await context.pool.fileDigester();
  const fileUpdate = hashFile ? progress.fileDigester!.update(bytes) : undefined;
  // Awaited by the chunk's task, which a failed hash ends first: handled here too, so that a push failing (and
  // stopping its hashing workers) is not cut short by an unhandled rejection.
  fileUpdate?.catch(noop);
  const hashed = known
    ? Promise.resolve({ digest: known, bytes })
    : context.pool.hashChunk(bytes).then((result) => {
        progress.chunks[index] = { digest: result.digest, size: length };
        return result;
      });
  progress.hashing.push(hashed.then(noop, noop));
  context.pipeline.start(async () => {
    try {
      const { digest, bytes: hashedBytes } = await hashed;
      context.guard?.checkChunk(progress.path, index, digest); // before the chunk is stored, never after
      await storeChunk(repo, digest, hashedBytes, context);
      await fileUpdate;
      context.counters.chunks++;
      context.task.advance(length);
    } finally {
      release?.();
    }
  });
}

/**
 * A file the stat cache says is unchanged: its chunks are not read or hashed again. They are stored if the manifest
 * that last committed them is still there (manifests are written only after their chunks); otherwise each is checked
 * (the push that recorded it may have died before its manifest). Returns undefined when any is missing, so the
 * caller pushes the file.
 */
export async function reuseCachedFile(repo: Repository, entry: CachedFile, context: PushFileContext): Promise<ManifestFile | undefined> {
  const { counters, task } = context;
  const cached = entry.file;
  if (await context.chunksStoredBy(entry)) {
    context.vouchers.add(entry.manifest!);
  } else {
    await context.packs?.(); // chunks in packs a killed push left behind count as stored
    let missing = false;
    const unseen = cached.chunks.filter((chunk) => !counters.seen.has(chunk.digest));
    await forEachConcurrently(unseen, context.concurrency, async ({ digest, size }) => {
      if (!missing && !(await isStored(repo, digest, size, context))) missing = true; // once one is missing, the rest are passed over
    });
    if (missing) return undefined;
  }
  for (const chunk of cached.chunks) counters.seen.add(chunk.digest);
  counters.chunks += cached.chunks.length;
  counters.bytesSkipped += cached.size;
  task.advance(cached.size);
  return cached;
}
