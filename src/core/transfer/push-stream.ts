import type { Chunker } from '../chunking/chunker.js';
import { readGcRecords, condemnedPacks } from '../gc/gc-records.js';
import type { Digest } from '../format/digest.js';
import type { ChunkRef, ManifestFile } from '../format/manifest.js';
import { silentProgress, type ProgressSink, type ProgressTask } from '../progress.js';
import { PACKED_FORMAT, type Repository } from '../store/repository.js';
import { fileInProgress, pushSource, type PushFileContext, type TransferCounters } from './push-file.js';
import { commitVersion } from './push.js';
import { startPushRun, type PushRun } from './push-run.js';
import type { SourceFile } from './walk.js';

// A push fed as bytes arrive instead of from files on disk (a download from the Hugging Face hub): each file's
// chunks come from a generator of its own, which may stop between chunks to make what it yielded durable
// (`checkpoint`), and may begin with chunks a killed run already stored, read back from the repository. The write
// order is push.ts's: the version is committed only once every chunk is stored and indexed.

export interface StreamStore {
  /** Cuts chunks as the repository does, so a file streamed in dedupes with the same file pushed from disk. */
  chunker: Chunker;
  /**
   * Waits until every chunk yielded so far is stored in a pack that a later push takes back after a kill -9
   * (pending.ts); returns the file's chunks so far, in order.
   */
  checkpoint(): Promise<ChunkRef[]>;
  /** Whether the chunk is stored: indexed, in a pack of this push, or in one a killed push left. */
  stored(chunk: ChunkRef): Promise<boolean>;
  /** A stored chunk's bytes, checked against its digest. */
  read(chunk: ChunkRef): Promise<Buffer>;
}

export interface StreamedFile {
  /** Path in the manifest. */
  path: string;
  size: number;
  /** Names the file in messages, e.g. hf.co/ORG/REPO/FILE. */
  label: string;
  /** The file's content-defined chunks, in order; each yielded Buffer is the caller's no more. */
  chunks(store: StreamStore): AsyncIterable<Buffer>;
}

export interface StreamPushOptions {
  model: string;
  tag: string;
  force?: boolean;
  annotations?: Record<string, string>;
  /** Advanced by each chunk's bytes once stored. */
  task: ProgressTask;
  progress?: ProgressSink;
}

export interface StreamPushResult {
  digest: Digest;
  counters: TransferCounters;
}

export async function pushStreams(repo: Repository, files: StreamedFile[], options: StreamPushOptions): Promise<StreamPushResult> {
  const progress = options.progress ?? silentProgress;
  await repo.backend.probe('write');
  const metadata = await repo.ensureMetadata();
  const gcRecords = metadata.format === PACKED_FORMAT ? await readGcRecords(repo.backend) : [];
  const removals = await repo.removalMark();
  const note = (message: string): void => progress.note(message);
  const run = startPushRun(repo, { ...metadata, removals, model: options.model, note, task: options.task, concurrency: repo.concurrency, avoid: condemnedPacks(gcRecords) });
  // Never read: a name no file has, so that the GGUF annotations step finds nothing on local disk to read.
  const sources: SourceFile[] = files.map((f) => ({ path: f.path, absolute: `\0${f.label}`, size: f.size, mode: 0o644, mtimeMs: 0, ctimeMs: 0, ino: 0 }));
  let manifestFiles: ManifestFile[];
  try {
    manifestFiles = await storeStreams(repo, files, sources, run);
  } finally {
    options.task.end();
    await run.close();
  }
  const gcSeen = new Set(gcRecords.map((r) => r.key));
  const { digest } = await commitVersion(repo, { model: options.model, tag: options.tag, force: options.force, annotations: options.annotations }, sources, manifestFiles, run, removals, progress, gcSeen);
  return { digest, counters: run.context.counters };
}

async function storeStreams(repo: Repository, files: StreamedFile[], sources: SourceFile[], run: PushRun): Promise<ManifestFile[]> {
  const manifestFiles: ManifestFile[] = [];
  try {
    for (const [index, file] of files.entries()) {
      const progress = fileInProgress(file.path);
      const store = streamStore(repo, run.context, progress.chunks);
      const source = { chunks: wrap(file.chunks(store)), fileDigest: () => undefined };
      manifestFiles.push(await pushSource(repo, sources[index]!, source, run.context, progress));
    }
    await run.finish();
    return manifestFiles;
  } catch (error) {
    await run.abandon();
    throw error;
  }
}

async function* wrap(chunks: AsyncIterable<Buffer>): AsyncGenerator<{ bytes: Buffer }> {
  for await (const bytes of chunks) yield { bytes };
}

function streamStore(repo: Repository, context: PushFileContext, chunks: ChunkRef[]): StreamStore {
  return {
    chunker: context.chunker,
    checkpoint: async () => {
      await context.pipeline.drain();
      const failure = context.pipeline.failure;
      if (failure) throw failure.error;
      await (await context.packs?.())?.checkpoint();
      return chunks.map((c) => ({ ...c }));
    },
    stored: async ({ digest, size }) => {
      await context.packs?.(); // takes in the packs a killed run left, so their chunks count
      return context.locations ? context.locations.has(digest, size) : repo.hasChunk(digest, size);
    },
    read: ({ digest, size }) => repo.getChunk(digest, context.locations, size),
  };
}
