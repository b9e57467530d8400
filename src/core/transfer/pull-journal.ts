import type { FileHandle } from 'node:fs/promises';
import { writeAtomic } from '../../lib/atomic-write.js';
import { FileTooLargeError, readRegularFileIfExists } from '../../lib/safe-fs.js';
import { JOURNAL_FORMAT, journalSchema } from '../format/schemas/local-state.js';
import { parseJsonOrUndefined } from '../format/schemas/parse.js';
import type { ProgressTask } from '../progress.js';

// The journal beside a partial file (`.aim/partial/<digest>.journal`): how many chunks, from the first, are on disk.
// A killed pull resumes from there; the resumed pull checks those chunks again, so a journal that claims too much
// costs a re-download, never a wrong file. It is read as a regular file only: a link or FIFO there is refused.

const JOURNAL_EVERY_BYTES = 64 * 1024 * 1024;

export interface Journal {
  chunksDone: number;
  complete: boolean;
}

/**
 * The journal a previous run left, or a fresh start when there is none or it does not read as one (too long for
 * one included). A link or FIFO planted in its place is refused.
 */
export async function readJournal(path: string): Promise<Journal> {
  const fresh = { chunksDone: 0, complete: false };
  const bytes = await readRegularFileIfExists(path, JOURNAL_FORMAT.maxBytes).catch((error: unknown) => {
    if (error instanceof FileTooLargeError) return undefined;
    throw error;
  });
  return parseJsonOrUndefined(journalSchema, bytes, JOURNAL_FORMAT) ?? fresh;
}

/** Records that every chunk is on disk and synced (the file waits only for its rename into place). */
export function writeCompleteJournal(path: string, chunks: number): Promise<void> {
  return writeAtomic(path, JSON.stringify({ chunksDone: chunks, complete: true }), { durable: false });
}

/**
 * Chunks finish in any order; the journal moves over the contiguous prefix of finished ones, every 64 MiB, and the
 * progress bar with it. Each journal step also starts writeback of the partial file (one fdatasync at a time), so
 * the final fsync waits only for the last stretch. Linux only: elsewhere (macOS) a datasync also flushes the
 * drive's own cache.
 */
export class JournalProgress {
  private readonly finished = new Set<number>();
  private journaled: number;
  private journaling: Promise<void> = Promise.resolve();
  private flushing: Promise<unknown> | undefined;
  /** A failed journal write or datasync: the pull stops and reports it. */
  failure: unknown;

  constructor(
    private readonly path: string,
    private readonly handle: FileHandle,
    private readonly sizes: number[],
    private readonly offsets: number[],
    private readonly task: ProgressTask,
    /** The first chunk not yet on disk. */
    private done: number,
    /** Where the bytes the writer still holds in memory begin (DirectWriter.inFileBefore): none of them is claimed. */
    private readonly inFileBefore: () => number,
  ) {
    this.journaled = offsets[done]!;
  }

  /** Chunk `index` is written at its offset. */
  finish(index: number): void {
    this.finished.add(index);
    while (this.finished.delete(this.done)) this.task.advance(this.sizes[this.done++]!);
    if (this.offsets[this.done]! - this.journaled < JOURNAL_EVERY_BYTES) return;
    // The chunks wholly in the file: a chunk written with direct I/O may end in a partial block that waits in memory
    // for the next chunk's first bytes, and a killed process loses that block.
    const inFile = this.inFileBefore();
    let claimed = this.done;
    while (this.offsets[claimed]! > inFile) claimed--;
    if (this.offsets[claimed]! <= this.journaled) return;
    // No fsync of the journal: a killed process loses nothing from the page cache, and after a power cut a journal
    // that claims more than reached the disk only costs a re-download.
    const record = JSON.stringify({ chunksDone: claimed, complete: false });
    this.journaling = this.journaling.then(() => writeAtomic(this.path, record, { durable: false }));
    this.journaling.catch((error: unknown) => (this.failure ??= error));
    this.journaled = this.offsets[claimed]!;
    if (process.platform === 'linux') {
      this.flushing ??= this.handle
        .datasync()
        .catch((error: unknown) => (this.failure ??= error))
        .finally(() => (this.flushing = undefined));
    }
  }

  /** Waits for the journal write and the writeback in progress; throws what failed. */
  async settle(): Promise<void> {
    await this.journaling.catch(() => undefined);
    await this.flushing;
    if (this.failure) throw this.failure;
  }
}
