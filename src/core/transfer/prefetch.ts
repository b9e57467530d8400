import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { readRegularFile } from '../../lib/safe-fs.js';
import type { SourceFile } from './walk.js';

// Small files are read a few at a time ahead of the push. Read one after the other, each costs an open, a stat,
// two reads and a close on libuv's thread pool, and the push waits for every one with its main thread idle. Tiny
// files (configs, tokenizer pieces, datasets of many records) are read on the main thread instead: five thread-pool
// round trips cost more than the read itself when the file is in the page cache (docs/benchmarks.md: 10,000 files
// of 100 B to 8 KiB pushed in 1.18-1.29 s against 1.77-1.94 s; from a cold cache 2.06-2.42 s against 2.00-2.29 s).

/** Files up to this size are read whole, ahead; bigger ones stream through a window as they are pushed. */
export const PREFETCH_MAX_FILE = 4 * 1024 * 1024;
const AHEAD_FILES = 16;
const AHEAD_BYTES = 32 * 1024 * 1024;
/** Files up to this size are read on the main thread. */
const TINY_FILE = 64 * 1024;

/**
 * The bytes of a tiny regular file, read without the thread pool. Opened non-blocking, without following a link at its
 * name, and checked to be a regular file first, so that a FIFO or link swapped in since the walk is not read (the usual
 * read then reports it).
 */
function readTinyFile(path: string): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) throw new Error(`${path} is not a regular file`);
    if (info.size > TINY_FILE) throw new Error(`${path} grew since the walk`);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The file's bytes: tiny ones at once on the main thread, the others through the thread pool; one grown past what is
 * read ahead since the walk is left to the usual read.
 */
const readAhead = async (file: SourceFile): Promise<Buffer> =>
  file.size <= TINY_FILE ? readTinyFile(file.absolute) : readRegularFile(file.absolute, PREFETCH_MAX_FILE);

export class FilePrefetch {
  private readonly reads = new Map<number, Promise<Buffer | undefined>>();
  private next = 0;
  private bytesAhead = 0;

  /** `wanted`: whether a file will be read at all (not one whose chunks the stat cache vouches for). */
  constructor(
    private readonly files: SourceFile[],
    private readonly wanted: (file: SourceFile) => boolean | Promise<boolean>,
  ) {}

  /**
   * The bytes of `files[index]` when they were read ahead, undefined when it is read the usual way (too big, not
   * wanted, or the read failed: the usual read then reports why). Starts reading the files after it.
   */
  take(index: number): Promise<Buffer | undefined> {
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

  private fill(): void {
    while (this.next < this.files.length && this.reads.size < AHEAD_FILES) {
      const file = this.files[this.next]!;
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
}
