import { constants } from 'node:fs';
import { lstat, unlink, type FileHandle } from 'node:fs/promises';
import { DirectWriter } from '../../lib/direct-writer.js';
import { openRegular, readFully } from '../../lib/safe-fs.js';
import { digestHex } from '../format/digest.js';
import type { ManifestFile } from '../format/manifest.js';
import { TaskPool } from '../../lib/concurrently.js';
import { checksOnWorker, fetchCheckedRun, fetchUnit, nextUnit, type PullFileContext } from './fetch-units.js';
import { MAX_RUN_BYTES } from './chunk-buffers.js';
import { JournalProgress, readJournal, writeCompleteJournal } from './pull-journal.js';

// Rebuilds one file from its chunks into `.aim/partial/<digest>`. Every chunk is checked against its BLAKE3 digest
// before it is written, at the offset the manifest fixes (whose chunk sizes must add up to the file size), so the
// finished file is exactly the verified chunks in order. A journal (pull-journal.ts) records how many chunks are on
// disk, so a pull killed at any moment resumes from there instead of from zero; a resumed pull checks those chunks
// again, on disk, and fetches anew from the first one that does not match.
//
// The whole file is not hashed again: every byte of it was just checked in its chunk, and a second BLAKE3 pass over
// the file would be a large share of a pull's CPU.
// A manifest's file digest and its chunk digests come from the same read when it is pushed; a file already in
// place in DEST is still judged by its whole-file digest (verify-file.ts).
//
// The partial file and its journal are opened as regular files only (safe-fs): a link planted at either name is
// refused, never written through, and a FIFO there cannot block the pull.

/** `folder` is partialFolder's (normalized): a plain join, which thousands of small files call often enough to notice. */
export const partialPath = (folder: string, file: ManifestFile): string => `${folder}/${digestHex(file.digest)}`;

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
  /** Where the chunks' bytes go: around the page cache where the file system allows it. */
  writer: DirectWriter;
  offsets: number[];
  journal: JournalProgress;
}

/**
 * Fetches the chunks from index `done` on, several at a time. Each chunk is written at its offset as soon as it is
 * verified, so writes overlap; the journal records the contiguous prefix of chunks written. A chunk's buffer goes
 * back to the pool once written, and a chunk counts as in flight until then, so at most `concurrency` buffers are held.
 */
async function writeChunks(partial: PartialWriter, done: number): Promise<void> {
  const { file, context, offsets, journal } = partial;
  const fetches = new TaskPool(context.concurrency);
  // Reads in flight are bounded by count and by bytes: a run of packed chunks is up to 8 MiB, and a unit starts
  // only once it fits. Five runs at once were the fastest of three, five and eight, from S3 and from a folder
  // (docs/benchmarks.md).
  const byteBudget = Math.max(5 * MAX_RUN_BYTES, context.concurrency * 1024 * 1024);
  let bytesInFlight = 0;
  for (let first = done; first < file.chunks.length && !fetches.failure && !journal.failure; ) {
    const unit = nextUnit(file, first, context);
    first += unit.count;
    await fetches.room(() => bytesInFlight + unit.bytes <= byteBudget);
    if (fetches.failure || journal.failure) break;
    const position = offsets[unit.first]!;
    // A run from a pack is checked on a worker, in a slot of its own (taking one waits for a run to be written).
    const slot = checksOnWorker(context, unit) ? await context.runs!.take() : undefined;
    const buffer = slot ? undefined : context.buffers.take(unit.bytes, position);
    bytesInFlight += unit.bytes;
    fetches.start(async () => {
      try {
        const bytes = slot ? await fetchCheckedRun(context, file, unit, slot, position) : await fetchUnit(context, file, unit, buffer!);
        await partial.writer.write(bytes, position);
        for (let index = unit.first; index < unit.first + unit.count; index++) journal.finish(index);
      } finally {
        bytesInFlight -= unit.bytes;
        if (slot) slot.release();
        else context.buffers.give(buffer!);
      }
    });
  }
  await fetches.settle();
  await journal.settle().catch((error: unknown) => fetches.fail(error)); // a fetch's failure, if any, comes first
  if (fetches.failure) throw fetches.failure.error;
}

/**
 * Opens the partial at `temp` to resume it, or creates it. A partial with a second name is not resumed: a pull killed
 * between the link and the unlink of a move (move-no-replace.ts) left it in place under its final name too, which may
 * have become the user's since, and a link planted there shares its bytes with a file elsewhere. Only its name here
 * is removed, and the file built anew.
 */
async function openPartial(temp: string): Promise<{ handle: FileHandle; resumed: boolean }> {
  if (await lstat(temp).catch(() => undefined)) {
    const handle = await openRegular(temp, constants.O_RDWR);
    if ((await handle.stat()).nlink === 1) return { handle, resumed: true };
    await handle.close();
    await unlink(temp);
  }
  return { handle: await openRegular(temp, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC), resumed: false };
}

export async function pullFile(file: ManifestFile, folder: string, context: PullFileContext): Promise<string> {
  const temp = partialPath(folder, file);
  const journalPath = `${temp}.journal`;
  const journal = await readJournal(journalPath);
  const offsets = chunkOffsets(file);
  const { handle, resumed } = await openPartial(temp);
  // A complete journal (the run was killed while renaming files into place) is checked like any other.
  const claimed = resumed ? Math.min(journal.complete ? file.chunks.length : journal.chunksDone, file.chunks.length) : 0;
  try {
    const done = await verifiedPrefix(handle, file, offsets, claimed, context);
    context.task.advance(offsets[done]!);
    context.counters.bytesReused += offsets[done]!; // resumed: on disk already and checked, so part of what was skipped
    const writer = await DirectWriter.open(temp, handle, file.size, offsets[done]!);
    try {
      const journal = new JournalProgress(journalPath, handle, file.chunks.map((chunk) => chunk.size), offsets, context.task, done, () => writer.inFileBefore);
      await writeChunks({ file, context, writer, offsets, journal }, done);
      await writer.finish();
    } finally {
      await writer.close().catch(() => undefined);
    }
    await handle.truncate(file.size);
    await handle.sync();
  } finally {
    await handle.close().catch(() => undefined);
  }
  await writeCompleteJournal(journalPath, file.chunks.length);
  return temp;
}
