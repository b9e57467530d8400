import { constants } from 'node:fs';
import { lstat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAtomic } from '../../lib/atomic-write.js';
import { DirectWriter } from '../../lib/direct-writer.js';
import { FileTooLargeError, openRegular, readFully, readRegularFileIfExists } from '../../lib/safe-fs.js';
import { digestHex } from '../format/digest.js';
import type { ManifestFile } from '../format/manifest.js';
import { JOURNAL_FORMAT, journalSchema } from '../format/schemas/local-state.js';
import { parseJsonOrUndefined } from '../format/schemas/parse.js';
import { TaskPool } from '../../lib/concurrently.js';
import { fetchUnit, nextUnit, type PullFileContext } from './fetch-units.js';
import { MAX_RUN_BYTES } from './chunk-buffers.js';

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
//
// The partial file and its journal are opened as regular files only (safe-fs): a link planted at either name is
// refused, never written through, and a FIFO there cannot block the pull.

const JOURNAL_EVERY_BYTES = 64 * 1024 * 1024;

interface Journal {
  chunksDone: number;
  complete: boolean;
}

export const partialPath = (folder: string, file: ManifestFile): string => join(folder, digestHex(file.digest));

/**
 * The journal a previous run left, or a fresh start when there is none or it does not read as one (too long for
 * one included). A link or FIFO planted in its place is refused.
 */
async function readJournal(path: string): Promise<Journal> {
  const fresh = { chunksDone: 0, complete: false };
  const bytes = await readRegularFileIfExists(path, JOURNAL_FORMAT.maxBytes).catch((error: unknown) => {
    if (error instanceof FileTooLargeError) return undefined;
    throw error;
  });
  return parseJsonOrUndefined(journalSchema, bytes, JOURNAL_FORMAT) ?? fresh;
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
      const bytesRead = await readFully(handle, target, offsets[index]!);
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
  const existing = await lstat(temp).catch(() => undefined);
  // A complete journal (the run was killed while renaming files into place) is checked like any other.
  const claimed = existing ? Math.min(journal.complete ? file.chunks.length : journal.chunksDone, file.chunks.length) : 0;
  const handle = await openRegular(temp, constants.O_RDWR | (existing ? 0 : constants.O_CREAT | constants.O_TRUNC));
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
