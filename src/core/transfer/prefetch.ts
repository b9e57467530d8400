import { closeSync, readFileSync } from 'node:fs';
import { readRegularFile } from '../../lib/safe-fs.js';
import type { Chunker } from '../chunking/chunker.js';
import { openTinyFile, TINY_FILE } from './tiny-file-read.js';
import { BATCH_FILES, TinyFileReader, type TinyRead } from './tiny-file-reader.js';
import type { SourceFile } from './walk.js';

// Small files are read a few at a time ahead of the push. Read one after the other, each costs an open, a stat,
// two reads and a close on libuv's thread pool, and the push waits for every one with its main thread idle. Tiny
// files (configs, tokenizer pieces, datasets of many records) are read on the main thread instead: five thread-pool
// round trips cost more than the read itself when the file is in the page cache (docs/benchmarks.md: 10,000 files
// of 100 B to 8 KiB pushed in 1.18-1.29 s against 1.77-1.94 s; from a cold cache 2.06-2.42 s against 2.00-2.29 s).
// When a push has many, worker threads read, cut and hash them in batches (tiny-file-reader.ts).

/** Files up to this size are read whole, ahead; bigger ones stream through a window as they are pushed. */
export const PREFETCH_MAX_FILE = 4 * 1024 * 1024;
const AHEAD_FILES = 16;
/** Files read ahead when worker threads read the tiny ones: a batch queued for each slot of the reader. */
const AHEAD_TINY_FILES = 4 * BATCH_FILES;
const AHEAD_BYTES = 32 * 1024 * 1024;

/** The bytes of a tiny regular file, read on this thread (tiny-file-read.ts says how it is opened). */
function readTinyFile(path: string): Buffer {
  const fd = openTinyFile(path);
  try {
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A file read ahead: its bytes, or, read on a worker thread, its bytes already cut and hashed. */
export type Preloaded = Buffer | TinyRead;

/**
 * The file's bytes: tiny ones at once on the main thread, the others through the thread pool; one grown past what is
 * read ahead since the walk is left to the usual read.
 */
const readAhead = async (file: SourceFile): Promise<Buffer> =>
  file.size <= TINY_FILE ? readTinyFile(file.absolute) : readRegularFile(file.absolute, PREFETCH_MAX_FILE);

export class FilePrefetch {
  private readonly reads = new Map<number, Promise<Preloaded | undefined>>();
  private next = 0;
  private bytesAhead = 0;
  private readonly tiny?: TinyFileReader;

  /**
   * `wanted`: whether a file will be read at all (not one whose chunks the stat cache vouches for). With `chunker`, a
   * push of many tiny files reads them on worker threads, cut by it. Close it once the push is done with it.
   */
  constructor(
    private readonly files: SourceFile[],
    private readonly wanted: (file: SourceFile) => boolean | Promise<boolean>,
    chunker?: Chunker,
  ) {
    if (chunker) this.tiny = TinyFileReader.create(chunker, files.filter((file) => TinyFileReader.reads(file)).length);
  }

  /**
   * The bytes of `files[index]` when they were read ahead, undefined when it is read the usual way (too big, not
   * wanted, or the read failed: the usual read then reports why). Starts reading the files after it.
   */
  take(index: number): Promise<Preloaded | undefined> {
    this.next = Math.max(this.next, index);
    this.fill();
    const read = this.reads.get(index);
    if (read) {
      this.reads.delete(index);
      this.bytesAhead -= this.files[index]!.size;
      this.fill();
    }
    return read ?? Promise.resolve(undefined);
  }

  async close(): Promise<void> {
    await this.tiny?.close();
  }

  private fill(): void {
    const ahead = this.tiny ? AHEAD_TINY_FILES : AHEAD_FILES;
    while (this.next < this.files.length && this.reads.size < ahead) {
      const file = this.files[this.next]!;
      if (this.tiny && TinyFileReader.reads(file)) {
        this.readBatch(this.tiny);
        continue;
      }
      const small = file.size <= PREFETCH_MAX_FILE;
      if (small && this.bytesAhead + file.size > AHEAD_BYTES) return;
      if (small) {
        const read = Promise.resolve(this.wanted(file)).then((wanted) => (wanted ? readAhead(file) : undefined));
        this.reads.set(this.next, read.catch(() => undefined));
        this.bytesAhead += file.size;
      }
      this.next++;
    }
  }

  /** The next tiny files (up to a batch, those wanted) read on the reader's threads. */
  private readBatch(tiny: TinyFileReader): void {
    const indices: number[] = [];
    while (this.next < this.files.length && indices.length < BATCH_FILES && TinyFileReader.reads(this.files[this.next]!)) indices.push(this.next++);
    const batch = Promise.all(indices.map(async (index) => this.wanted(this.files[index]!))).then(async (wanted) => {
      const chosen = indices.filter((_, at) => wanted[at]);
      const reads = chosen.length > 0 ? await tiny.read(chosen.map((index) => this.files[index]!)) : [];
      return new Map(chosen.map((index, at) => [index, reads[at]]));
    });
    for (const index of indices) {
      this.reads.set(index, batch.then((reads) => reads.get(index), () => undefined));
      this.bytesAhead += this.files[index]!.size;
    }
  }
}
