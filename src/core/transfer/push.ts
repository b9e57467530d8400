import { Chunker } from '../chunking/chunker.js';
import type { Digest } from '../format/digest.js';
import { HashPool } from '../hashing/hash-pool.js';
import { MANIFEST_MEDIA_TYPE, type Manifest, type ManifestFile } from '../format/manifest.js';
import { silentProgress, type ProgressSink } from '../progress.js';
import { drainPipeline, pushFile, reuseCachedFile, type TransferCounters } from './push-file.js';
import { StatCache, type CachedFile } from './stat-cache.js';
import { ChunkingWorker } from '../chunking/parallel-chunk-reader.js';
import { INDEX_MERGING, PackWriter } from '../store/pack-writer.js';
import { PACKED_FORMAT, type Repository } from '../store/repository.js';
import { unindexedPacks } from '../store/packs.js';
import { FilePrefetch } from './prefetch.js';
import { refreshIndex } from '../store/repo-index.js';
import { ggufAnnotationsFor } from './push-annotations.js';
import { updateTags, type TagOutcome } from '../store/tags.js';
import { walkSource, type SourceFile, type WalkOptions } from './walk.js';

// push = walk, chunk and hash every file once, upload only the chunks the repository lacks, then write the
// manifest, then the tag, last. That order is the crash-safety argument: a tag never names a manifest whose chunks
// are not all stored, and an interrupted push leaves only unreferenced chunks, which the next run reuses.

export interface PushOptions extends WalkOptions {
  model: string;
  tag: string;
  force?: boolean;
  annotations?: Record<string, string>;
  /** Chunks hashed or uploaded at once; bounds memory at about this many times the maximum chunk size. */
  concurrency?: number;
  /** Read and hash every file even if the stat cache says it is unchanged. */
  rehash?: boolean;
  progress?: ProgressSink;
}

export interface PushResult {
  repo: string;
  model: string;
  tag: string;
  digest: Digest;
  files: number;
  totalBytes: number;
  chunks: number;
  /** Chunk bytes sent to the backend. */
  bytesTransferred: number;
  /** Chunk bytes not sent because the repository already had them. */
  bytesSkipped: number;
  tagOutcome: TagOutcome;
  skippedSymlinks: string[];
  seconds: number;
}

/** Writes the manifest, then the tags, then the model index: called only once every chunk is stored. */
async function commitVersion(
  repo: Repository,
  options: PushOptions,
  files: SourceFile[],
  manifestFiles: ManifestFile[],
  totalBytes: number,
  progress: ProgressSink,
): Promise<{ digest: Digest; tagOutcome: TagOutcome }> {
  const manifest: Manifest = {
    schemaVersion: 1,
    mediaType: MANIFEST_MEDIA_TYPE,
    files: manifestFiles,
    annotations: { ...(await ggufAnnotationsFor(files)), ...options.annotations },
  };
  progress.note('writing manifest');
  const { digest } = await repo.putManifest(manifest);
  const tagOutcome = await updateTags(repo, options.model, options.tag, {
    digest,
    pushedAt: new Date().toISOString(),
    size: totalBytes,
    files: files.length,
  }, options.force ?? false);
  if (tagOutcome !== 'unchanged') await refreshIndex(repo, options.model);
  return { digest, tagOutcome };
}

/**
 * A pack writer that first takes in the packs a killed push left unindexed, so their chunks are not sent again.
 * `removals`: the repository's removal mark, read before its index; it decides whether index files may be merged.
 */
async function openPackWriter(repo: Repository, removals: string | undefined): Promise<PackWriter> {
  const index = await repo.packIndex();
  const allowed = (): Promise<boolean> => repo.indexMergeAllowed(removals);
  return new PackWriter(repo.backend, index, await unindexedPacks(repo.backend, index), { ...INDEX_MERGING, allowed });
}

export async function push(repo: Repository, source: string, options: PushOptions): Promise<PushResult> {
  const started = performance.now();
  const progress = options.progress ?? silentProgress;
  await repo.backend.probe('write');
  const { files, skipped } = await walkSource(source, options);
  const metadata = await repo.ensureMetadata();
  const chunker = new Chunker(metadata.chunking);
  const pool = new HashPool();
  const counters: TransferCounters = { bytesTransferred: 0, bytesSkipped: 0, chunks: 0, seen: new Set() };
  const totalBytes = files.reduce((sum, file) => sum + file.size, 0);
  const task = progress.begin(`pushing ${repo.name}/${options.model}:${options.tag}`, totalBytes);
  const manifestFiles: ManifestFile[] = [];
  const cache = await StatCache.open(repo.location, metadata.chunking);
  // Started on the first big file that must be read: an unchanged re-push then spends no time starting threads.
  const bigFiles: { reader?: ChunkingWorker; started?: boolean } = {};
  const bigFileReader = (): ChunkingWorker | undefined => {
    if (!bigFiles.started) bigFiles.reader = ChunkingWorker.create(chunker);
    bigFiles.started = true;
    return bigFiles.reader;
  };
  const pipeline = { inFlight: new Set<Promise<void>>() };
  const removals = await repo.removalMark();
  const manifestsSeen = new Map<Digest, Promise<boolean>>();
  const chunksStoredBy = ({ manifest, removals: mark }: CachedFile): Promise<boolean> => {
    if (!manifest || mark !== removals) return Promise.resolve(false);
    if (!manifestsSeen.has(manifest)) manifestsSeen.set(manifest, repo.hasManifest(manifest));
    return manifestsSeen.get(manifest)!;
  };
  let packWriter: Promise<PackWriter> | undefined;
  let abandoned = false;
  if (metadata.format === PACKED_FORMAT) repo.cacheIndex(); // before anything asks the index, so it comes from the cache
  // Opened at most once, and never after the push failed: a chunk still hashing then must not start a writer that
  // nothing salvages.
  const packs =
    metadata.format === PACKED_FORMAT
      ? () => (abandoned ? Promise.reject(new Error('the push was abandoned')) : (packWriter ??= openPackWriter(repo, removals)))
      : undefined;
  const context = { chunker, pool, counters, task, concurrency: options.concurrency ?? repo.concurrency, pipeline, bigFileReader, chunksStoredBy, packs };
  try {
    // Files the stat cache knows are read ahead too when the manifest that stored their chunks is gone (a wiped or
    // new repository at the same path): their chunks are then checked one by one and usually missing.
    const cachedEntry = (file: SourceFile): CachedFile | undefined => (options.rehash ? undefined : cache.lookup(file));
    const prefetch = new FilePrefetch(files, (file) => {
      const cached = cachedEntry(file);
      return cached ? chunksStoredBy(cached).then((stored) => !stored) : true;
    });
    for (const [index, file] of files.entries()) {
      const cached = cachedEntry(file);
      const preloaded = prefetch.take(index);
      const pushed = (cached && (await reuseCachedFile(repo, cached, context))) || (await pushFile(repo, file, context, await preloaded));
      cache.record(file, pushed);
      manifestFiles.push(pushed);
    }
    await drainPipeline(context.pipeline);
    await (await packWriter)?.finish();
  } catch (error) {
    abandoned = true;
    await (await packWriter?.catch(() => undefined))?.salvage();
    await cache.save(); // what was read stays known to the next run, which checks those chunks one by one
    throw error;
  } finally {
    task.end();
    await pool.close();
    await bigFiles.reader?.close();
  }
  let committed: Awaited<ReturnType<typeof commitVersion>>;
  try {
    committed = await commitVersion(repo, options, files, manifestFiles, totalBytes, progress);
    cache.committed(committed.digest, removals);
  } finally {
    await cache.save();
  }
  const { digest, tagOutcome } = committed;
  return {
    repo: repo.name,
    model: options.model,
    tag: options.tag,
    digest,
    files: files.length,
    totalBytes,
    chunks: counters.chunks,
    bytesTransferred: counters.bytesTransferred,
    bytesSkipped: counters.bytesSkipped,
    tagOutcome,
    skippedSymlinks: skipped,
    seconds: (performance.now() - started) / 1000,
  };
}
