import { TaskPool } from '../../lib/concurrently.js';
import { Chunker, type ChunkingParams } from '../chunking/chunker.js';
import { ChunkingWorker } from '../chunking/parallel-chunk-reader.js';
import type { Digest } from '../format/digest.js';
import { HashPool } from '../hashing/hash-pool.js';
import type { ProgressTask } from '../progress.js';
import { PackWriter } from '../store/pack-writer.js';
import { adoptPendingPacks, deletePendingRecords, newPushId } from '../store/pending.js';
import { PushLocations } from '../store/push-locations.js';
import { PACKED_FORMAT, type Repository } from '../store/repository.js';
import type { PushFileContext, TransferCounters } from './push-file.js';
import type { CachedFile } from './stat-cache.js';
import type { TagGuard } from './push-guard.js';

// What one push holds while it stores files: the threads that cut and hash, the chunk uploads in flight, the pack
// writer and what the push knows of where chunks are. Each starts only when first needed, so an unchanged re-push
// starts no thread and reads no index.

export interface PushRun {
  context: PushFileContext;
  /** Waits for every chunk upload, then writes the index shards of the packs: call before the manifest is written. */
  finish(): Promise<void>;
  /** Once the version is committed: clears the pending records of this push and of those whose packs it adopted. */
  settle(): Promise<void>;
  /** After a failure: no pack writer opens any more, and the packs already stored are indexed for the next push. */
  abandon(): Promise<void>;
  /** Stops the threads. */
  close(): Promise<void>;
}

export interface PushRunOptions {
  chunking: ChunkingParams;
  format: number;
  /** The repository's removal mark at the start: the stat cache's word holds only while it is unchanged. */
  removals: string | undefined;
  model: string;
  note: (message: string) => void;
  task: ProgressTask;
  concurrency: number;
  /** Packs a gc may be removing (gc-records.ts): never deduped against. */
  avoid?: ReadonlySet<string>;
  guard?: TagGuard;
}

export function startPushRun(repo: Repository, options: PushRunOptions): PushRun {
  const chunker = new Chunker(options.chunking);
  const pool = new HashPool();
  const counters: TransferCounters = { bytesTransferred: 0, bytesSkipped: 0, chunks: 0, seen: new Set() };
  const bigFiles = lazily(() => ChunkingWorker.create(chunker));
  const locations = options.format === PACKED_FORMAT ? new PushLocations(repo, options.model, options.note) : undefined;
  if (options.avoid) locations?.avoid(options.avoid);
  const packs = locations ? packOpener(repo, locations) : undefined;
  const context: PushFileContext = {
    chunker,
    pool,
    counters,
    task: options.task,
    concurrency: options.concurrency,
    pipeline: new TaskPool(options.concurrency),
    bigFileReader: bigFiles.get,
    chunksStoredBy: storedByManifest(repo, options.removals),
    vouchers: new Set(),
    locations,
    packs: packs?.open,
    guard: options.guard,
  };
  return {
    context,
    finish: async () => {
      await context.pipeline.drain();
      await (await packs?.opened())?.finish();
    },
    settle: async () => {
      const writer = await packs?.opened();
      // Best effort: the version is committed; a record left behind only makes the next push read those footers again.
      if (writer) await deletePendingRecords(repo.backend, [writer.pushId, ...writer.adoptedPushIds]).catch(() => undefined);
    },
    abandon: async () => {
      await packs?.abandon();
    },
    close: async () => {
      await pool.close();
      await bigFiles.started()?.close();
    },
  };
}

/**
 * Whether a cached file's chunks are known stored: the manifest that committed them is still there and no chunk was
 * removed since. Each manifest is asked about once.
 */
function storedByManifest(repo: Repository, removals: string | undefined): (cached: CachedFile) => Promise<boolean> {
  const manifestsSeen = new Map<Digest, Promise<boolean>>();
  return ({ manifest, removals: mark }) => {
    if (!manifest || mark !== removals) return Promise.resolve(false);
    if (!manifestsSeen.has(manifest)) manifestsSeen.set(manifest, repo.hasManifest(manifest));
    return manifestsSeen.get(manifest)!;
  };
}

/**
 * The pack writer, opened at most once, and never after the push failed: a chunk still hashing then must not start
 * a writer that nothing salvages.
 */
function packOpener(repo: Repository, locations: PushLocations) {
  let writer: Promise<PackWriter> | undefined;
  let abandoned = false;
  repo.cacheIndex(); // a repository without location maps is read through the whole index, from the local copy
  return {
    open: (): Promise<PackWriter> =>
      abandoned ? Promise.reject(new Error('the push was abandoned')) : (writer ??= openPackWriter(repo, locations)),
    opened: (): Promise<PackWriter> | undefined => writer,
    abandon: async (): Promise<void> => {
      abandoned = true;
      await (await writer?.catch(() => undefined))?.salvage();
    },
  };
}

/** A pack writer that first takes in the packs killed pushes left unindexed, so their chunks are not sent again. */
async function openPackWriter(repo: Repository, locations: PushLocations): Promise<PackWriter> {
  const pushId = newPushId();
  return new PackWriter(repo.backend, locations, pushId, await adoptPendingPacks(repo.backend, pushId));
}

/** `make()` on the first `get()` only; `started()` tells whether it ran, and what it made. */
function lazily<T>(make: () => T): { get: () => T; started: () => T | undefined } {
  let made: { value: T } | undefined;
  return {
    get: () => (made ??= { value: make() }).value,
    started: () => made?.value,
  };
}
