import { open, readFile, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAtomic } from './atomic-write.js';
import { digestHex, type Digest } from './digest.js';
import { IntegrityError } from './errors.js';
import type { FileDigester, HashPool } from './hash-pool.js';
import type { ManifestFile } from './manifest.js';
import type { ProgressTask } from './progress.js';
import { blobKey, type Repository } from './repository.js';

// Rebuilds one file from its chunks into `.aim/partial/<digest>`, verifying every chunk before it is written and the
// whole file before anyone may rename it into place. A journal records how many chunks are safely on disk, so a pull
// killed at any moment resumes from there instead of from zero.

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
}

interface Journal {
  chunksDone: number;
  complete: boolean;
}

export const partialPath = (folder: string, file: ManifestFile): string => join(folder, digestHex(file.digest));

async function readJournal(path: string): Promise<Journal> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  try {
    return text ? (JSON.parse(text) as Journal) : { chunksDone: 0, complete: false };
  } catch {
    return { chunksDone: 0, complete: false };
  }
}

/**
 * Buffers for chunks in flight, reused: a new buffer per chunk makes a big pull spend a sixth of its time in the
 * garbage collector. A buffer that went to a hashing worker comes back detached (empty) and is dropped.
 */
export class ChunkBuffers {
  private readonly free: Buffer[] = [];

  take(size: number): Buffer {
    const index = this.free.findIndex((buffer) => buffer.length >= size);
    const buffer = index >= 0 ? this.free.splice(index, 1)[0]! : Buffer.allocUnsafeSlow(Math.max(size, 4 * 1024 * 1024));
    return buffer;
  }

  give(buffer: Buffer): void {
    if (buffer.length > 0) this.free.push(buffer);
  }
}

async function readLocalCopy(source: ChunkSource, target: Buffer): Promise<boolean> {
  const handle = await open(source.path, 'r').catch(() => undefined);
  if (!handle) return false;
  const { bytesRead } = await handle.read(target, 0, target.length, source.offset).finally(() => handle.close());
  return bytesRead === target.length;
}

/** The chunk's verified bytes, in a buffer taken from `buffers` (give it back once written) or a new one. */
async function fetchChunk(context: PullFileContext, digest: Digest, size: number, buffer: Buffer): Promise<Buffer> {
  const target = buffer.subarray(0, size);
  const local = context.locator.get(digest);
  if (local && (await readLocalCopy(local, target))) {
    const checked = await context.pool.hashChunk(target);
    if (checked.digest === digest) {
      context.counters.bytesReused += size;
      return checked.bytes;
    }
  }
  const { backend } = context.repo;
  const key = blobKey(digest);
  const bytes = backend.readInto
    ? await backend.readInto(key, target).then((read) => (read === size ? target : undefined), () => undefined)
    : await backend.get(key).catch(() => undefined);
  const checked = bytes && (await context.pool.hashChunk(bytes));
  if (!checked || checked.digest !== digest) {
    // Fall back to the repository's own error (missing or corrupt), with its hint.
    await context.repo.getBlob(digest);
    throw new IntegrityError(`chunk ${digest} changed while it was read`, { hint: 'run the pull again' });
  }
  context.counters.bytesTransferred += size;
  return checked.bytes;
}

/** Re-reads the bytes a previous run already wrote, so the whole-file hash covers them too. */
async function rehashPrefix(handle: FileHandle, bytes: number, digester: FileDigester): Promise<void> {
  const buffer = Buffer.allocUnsafe(4 * 1024 * 1024);
  for (let offset = 0; offset < bytes; ) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, bytes - offset), offset);
    if (bytesRead === 0) throw new IntegrityError('partial file shrank', { hint: 'run the pull again' });
    await digester.update(buffer.subarray(0, bytesRead));
    offset += bytesRead;
  }
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
  digester: FileDigester;
  offsets: number[];
  journalPath: string;
}

/**
 * Fetches the chunks from index `done` on, several at a time. Each chunk is written at its offset as soon as it is
 * verified, so writes overlap; the whole-file hash takes the chunks strictly in file order, and the journal records
 * the contiguous prefix of chunks both written and hashed. A chunk's buffer goes back to the pool after both, and a
 * chunk counts as in flight until then, so at most `concurrency` buffers are held.
 */
async function writeChunks(writer: PartialWriter, done: number): Promise<void> {
  const { file, context, handle, digester, offsets, journalPath } = writer;
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let hashedBefore: Promise<unknown> = Promise.resolve();
  const finished = new Set<number>();
  let journaled = offsets[done]!;
  let journaling: Promise<void> = Promise.resolve();
  // Writeback starts while chunks still arrive (one fdatasync at a time, at each journal step) instead of all at
  // the final fsync, which then waits only for the last stretch: that fsync took 0.42 s of a 3.3 s pull of 2 GiB
  // from S3, and local pulls of 2 GiB went from 1.3-1.5 s to 1.0-1.25 s. Linux only: elsewhere (macOS) a datasync
  // also flushes the drive's own cache, which was not measured.
  let flushing: Promise<unknown> | undefined;
  let flushFailure: unknown;
  const markFinished = (index: number): void => {
    finished.add(index);
    while (finished.delete(done)) {
      context.task.advance(file.chunks[done]!.size);
      done++;
    }
    if (offsets[done]! - journaled >= JOURNAL_EVERY_BYTES) {
      // No fsync here: a killed process loses nothing from the page cache, and after a power cut a journal that
      // claims more than reached the disk only costs a re-download (the whole-file digest check fails first).
      const record = JSON.stringify({ chunksDone: done, complete: false });
      journaling = journaling.then(() => writeAtomic(journalPath, record, { durable: false }));
      journaling.catch(() => undefined); // reported where it is awaited, after the loop
      journaled = offsets[done]!;
      if (process.platform === 'linux') {
        flushing ??= handle
          .datasync()
          .catch((error: unknown) => (flushFailure ??= error))
          .finally(() => (flushing = undefined));
      }
    }
  };
  for (let index = done; index < file.chunks.length && !failure && !flushFailure; index++) {
    const chunk = file.chunks[index]!;
    const buffer = context.buffers.take(chunk.size);
    const verified = fetchChunk(context, chunk.digest, chunk.size, buffer);
    const hashed = hashedBefore.then(() => verified).then((bytes) => digester.update(bytes));
    hashedBefore = hashed;
    const written = verified.then((bytes) => handle.write(bytes, 0, bytes.length, offsets[index]!));
    const work = Promise.allSettled([hashed, written]).then(([hashing, writing]) => {
      context.buffers.give(buffer);
      if (hashing.status === 'rejected') failure ??= hashing.reason;
      else if (writing.status === 'rejected') failure ??= writing.reason;
      else markFinished(index);
    });
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
    if (inFlight.size >= context.concurrency) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  await journaling;
  await flushing;
  if (failure ?? flushFailure) throw failure ?? flushFailure;
}

export async function pullFile(file: ManifestFile, folder: string, context: PullFileContext): Promise<string> {
  const temp = partialPath(folder, file);
  const journalPath = `${temp}.journal`;
  const journal = await readJournal(journalPath);
  const offsets = chunkOffsets(file);
  const existing = await stat(temp).catch(() => undefined);
  if (journal.complete && existing?.size === file.size) {
    context.task.advance(file.size);
    return temp;
  }
  const done = existing && existing.size >= offsets[journal.chunksDone]! ? journal.chunksDone : 0;
  const handle = await open(temp, existing ? 'r+' : 'w');
  try {
    const digester = await context.pool.fileDigester();
    await rehashPrefix(handle, offsets[done]!, digester);
    context.task.advance(offsets[done]!);
    await writeChunks({ file, context, handle, digester, offsets, journalPath }, done);
    await handle.truncate(file.size);
    const digest = await digester.digest();
    if (digest !== file.digest) {
      await rm(journalPath, { force: true });
      await handle.close().catch(() => undefined);
      await rm(temp, { force: true });
      throw new IntegrityError(`${file.path} does not match its digest after download (got ${digest})`, {
        hint: 'the version in the repository is damaged; run `aim verify` on it',
      });
    }
    await handle.sync();
  } finally {
    await handle.close().catch(() => undefined);
  }
  await writeAtomic(journalPath, JSON.stringify({ chunksDone: file.chunks.length, complete: true }), { durable: false });
  return temp;
}
