import { resolve } from 'node:path';
import type { Digest } from '../format/digest.js';
import { encodeManifest, MANIFEST_MEDIA_TYPE, manifestDigest, type Manifest, type ManifestFile } from '../format/manifest.js';
import { silentProgress, type ProgressSink } from '../progress.js';
import { pushFile, reuseCachedFile, type PushFileContext } from './push-file.js';
import { locationMapKey, writeLocationMap } from '../store/locations.js';
import { stopHereInTests } from '../store/test-stop.js';
import { startPushRun, type PushRun } from './push-run.js';
import { StatCache, type CachedFile } from './stat-cache.js';
import { PACKED_FORMAT, Repository } from '../store/repository.js';
import { FilePrefetch } from './prefetch.js';
import { refreshIndex } from '../store/repo-index.js';
import { checkRequirements } from '../catalog/requirements.js';
import { ggufAnnotationsFor } from './push-annotations.js';
import { updateTags, type TagOutcome } from '../store/tags.js';
import { walkSource, type SourceFile, type WalkOptions } from './walk.js';
import { checkNoGcRemoved, RemovalRaceError, removedWhileWritten } from '../gc/gc-race.js';
import { condemnedPacks, readGcRecords } from '../gc/gc-records.js';
import { log } from '../../lib/log.js';
import { refuseUnstored, TagGuard } from './push-guard.js';
import { refuseBundleName } from '../store/bundles.js';
import type { Signer } from '../signing/bundle.js';
import { storeSignature } from '../signing/sign.js';

// push = walk, chunk and hash every file once, upload only the chunks the repository lacks, then write (packed
// repositories) the pending record, the packs, the index shards, the key objects and the version's location map,
// then the manifest, then the tag, last, then drop the pending records. That order is the crash-safety argument: a
// tag never names a manifest whose chunks are not all stored and indexed, and an interrupted push leaves only
// unreferenced chunks, which the next run takes back (pending.ts) and reuses.

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
  /** Signs the version after its manifest is stored and before any tag names it (`push --sign`). */
  signer?: Signer;
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

/**
 * Writes the location map, the manifest, then the tags, then the model index: called only once every chunk is
 * stored and indexed.
 */
export async function commitVersion(
  repo: Repository,
  options: PushOptions,
  files: SourceFile[],
  manifestFiles: ManifestFile[],
  run: PushRun,
  removals: string | undefined,
  progress: ProgressSink,
  gcSeen: ReadonlySet<string>,
): Promise<{ digest: Digest; tagOutcome: TagOutcome }> {
  const manifest: Manifest = {
    schemaVersion: 1,
    mediaType: MANIFEST_MEDIA_TYPE,
    files: manifestFiles,
    annotations: { ...(await ggufAnnotationsFor(files)), ...options.annotations },
  };
  const digest = await manifestDigest(encodeManifest(manifest));
  // A version already there (an unchanged re-push, or a rerun after a kill) is not written again, nor its map.
  const stored = await repo.hasManifest(digest);
  if (run.context.locations) await mapVersion(repo, digest, manifest, stored, run.context, removals, progress);
  stopHereInTests('map');
  if (!stored) {
    progress.note('writing manifest');
    await repo.putManifest(manifest);
  }
  stopHereInTests('manifest');
  if (options.signer) {
    progress.note('signing');
    await storeSignature(repo, { model: options.model, tag: options.tag, digest, manifest }, options.signer);
  }
  const totalBytes = files.reduce((sum, file) => sum + file.size, 0);
  const tagOutcome = await updateTags(repo, options.model, options.tag, {
    digest,
    pushedAt: new Date().toISOString(),
    size: totalBytes,
    files: files.length,
  }, options.force ?? false);
  const locations = run.context.locations;
  if (locations) await checkNoGcRemoved(repo, digest, manifest, gcSeen, (chunk) => locations.lookup(chunk));
  // Even when the tags were already in place: a first run may have stopped before this step.
  await refreshIndex(repo, options.model, { known: { digest, manifest }, note: (message) => progress.note(message) });
  await run.settle();
  return { digest, tagOutcome };
}

/**
 * The version's location map, unless a repair is under way or ran since the push read the removals mark
 * (`removals`): what the push learned of where chunks are may then name dropped copies.
 */
async function mapVersion(
  repo: Repository,
  digest: Digest,
  manifest: Manifest,
  manifestStored: boolean,
  context: PushFileContext,
  removals: string | undefined,
  progress: ProgressSink,
): Promise<void> {
  if (Repository.removalUnderWay(removals)) {
    // Its deletion of the maps naming what it drops may already have passed: a map written now could outlive it.
    progress.note(`a repair of ${repo.name} is under way: version ${digest} is pushed without a location map (pulls read the whole index until \`aim repo upgrade ${repo.name}\` or a later push writes it)`);
    return;
  }
  if (await writeMap(repo, digest, manifest, manifestStored, context, progress)) await refuseAfterRemoval(repo, digest, removals);
}

/**
 * The version's location map, from what the push learned of where its chunks are; nothing when the version and its
 * map are both there already (an unchanged re-push). True when it wrote one. A chunk located nowhere leaves the
 * version without a map: it still pulls, through the whole index.
 */
async function writeMap(repo: Repository, digest: Digest, manifest: Manifest, manifestStored: boolean, context: PushFileContext, progress: ProgressSink): Promise<boolean> {
  const locations = context.locations!;
  if (manifestStored && (await repo.backend.stat(locationMapKey(digest)))) return false;
  const located = await locations.locateAll(manifest, context.vouchers);
  // A new version must not name a chunk the repository lacks: only a stat cache entry taken on a manifest's word can.
  if (!located && !manifestStored) refuseUnstored(repo, manifest, (chunk) => locations.lookup(chunk) !== undefined);
  const written = located && (await writeLocationMap(repo.backend, digest, manifest, (chunk) => locations.lookup(chunk)));
  if (!written) progress.note(`could not locate every chunk of version ${digest}: it is pushed without a location map (pulls read the whole index)`);
  return written;
}

/**
 * What this push learned of where chunks are (maps of other versions, shards) may name chunks a repair dropped
 * while it ran: then its map is taken back and the push fails, so that the next push learns again. Checked after
 * the map is written, so a repair that starts later finds the map and deletes it itself if it names a dropped chunk.
 */
async function refuseAfterRemoval(repo: Repository, digest: Digest, atStart: string | undefined): Promise<void> {
  if ((await repo.removalMark()) === atStart) return;
  await repo.backend.delete(locationMapKey(digest)).catch(() => undefined);
  throw removedWhileWritten(repo.name, digest);
}

/** Retries a push that lost a race with a gc or repair: the rerun sends only what was removed. */
export async function push(repo: Repository, source: string, options: PushOptions): Promise<PushResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await pushOnce(repo, source, options);
    } catch (error) {
      if (!(error instanceof RemovalRaceError) || attempt === 3) throw error;
      (options.progress ?? silentProgress).note(`${error.message}: pushing again`);
    }
  }
}

async function pushOnce(repo: Repository, source: string, options: PushOptions): Promise<PushResult> {
  const started = performance.now();
  const progress = options.progress ?? silentProgress;
  await repo.backend.probe('write');
  const { files, skipped } = await walkSource(source, options);
  for (const link of skipped) progress.note(`skipped ${link.path}: a link to ${link.pointsAt}, not to a regular file`);
  await refuseBundleName(repo, options.model);
  const guard = await TagGuard.forPush(repo, options.model, options.tag, options.force ?? false);
  guard?.checkFiles(files);
  const metadata = await repo.ensureMetadata();
  await checkRequirements(repo.name, metadata.requires, { annotations: options.annotations ?? {}, files });
  const totalBytes = files.reduce((sum, file) => sum + file.size, 0);
  log.info('push started', { repo: repo.name, model: options.model, tag: options.tag, files: files.length, bytes: totalBytes });
  const cache = await StatCache.open(repo.location, resolve(source), metadata.chunking, metadata.createdAt);
  // The gc records before the removal mark: a gc writes its record first (gc-records.ts).
  const gcRecords = metadata.format === PACKED_FORMAT ? await readGcRecords(repo.backend) : [];
  const removals = await repo.removalMark();
  const task = progress.begin(`pushing ${repo.name}/${options.model}:${options.tag}`, totalBytes);
  const note = (message: string): void => progress.note(message);
  const run = startPushRun(repo, { ...metadata, removals, model: options.model, note, task, concurrency: options.concurrency ?? repo.concurrency, guard, avoid: condemnedPacks(gcRecords) });
  const manifestFiles = await storeFiles(repo, files, run, cache, options.rehash).finally(async () => {
    task.end();
    await run.close();
  });
  let committed: Awaited<ReturnType<typeof commitVersion>>;
  try {
    committed = await commitVersion(repo, options, files, manifestFiles, run, removals, progress, new Set(gcRecords.map((r) => r.key)));
    cache.committed(committed.digest, removals);
  } finally {
    await cache.save();
  }
  const { counters } = run.context;
  const seconds = (performance.now() - started) / 1000;
  log.info('push complete', {
    repo: repo.name,
    digest: committed.digest,
    bytes: totalBytes,
    transferred: counters.bytesTransferred,
    skipped: counters.bytesSkipped,
    outcome: committed.tagOutcome,
    seconds,
  });
  return {
    repo: repo.name,
    model: options.model,
    tag: options.tag,
    digest: committed.digest,
    files: files.length,
    totalBytes,
    chunks: counters.chunks,
    bytesTransferred: counters.bytesTransferred,
    bytesSkipped: counters.bytesSkipped,
    tagOutcome: committed.tagOutcome,
    skippedSymlinks: skipped.map((link) => link.path),
    seconds,
  };
}

/**
 * Stores every file's chunks, reusing what the stat cache knows, and returns the manifest's file list once every
 * chunk is stored and indexed. On failure, what was stored stays usable by the next run.
 */
async function storeFiles(repo: Repository, files: SourceFile[], run: PushRun, cache: StatCache, rehash?: boolean): Promise<ManifestFile[]> {
  const { context } = run;
  // Files the stat cache knows are read ahead too when the manifest that stored their chunks is gone (a wiped or
  // new repository at the same path): their chunks are then checked one by one and usually missing.
  const cachedEntry = (file: SourceFile): CachedFile | undefined => (rehash ? undefined : cache.lookup(file));
  const prefetch = new FilePrefetch(
    files,
    (file) => {
      const cached = cachedEntry(file);
      return cached ? context.chunksStoredBy(cached).then((stored) => !stored) : true;
    },
    context.chunker,
  );
  const manifestFiles: ManifestFile[] = [];
  try {
    for (const [index, file] of files.entries()) {
      const cached = cachedEntry(file);
      const preloaded = prefetch.take(index);
      const pushed = (cached && (await reuseCachedFile(repo, cached, context))) || (await pushFile(repo, file, context, await preloaded));
      context.guard?.checkFile(pushed);
      cache.record(file, pushed);
      manifestFiles.push(pushed);
    }
    await run.finish();
    return manifestFiles;
  } catch (error) {
    await run.abandon();
    await cache.save(); // what was read stays known to the next run, which checks those chunks one by one
    throw error;
  } finally {
    await prefetch.close();
  }
}
