import { umaskBits } from '../../lib/umask.js';
import type { Digest } from '../format/digest.js';
import type { ManifestFile } from '../format/manifest.js';
import type { PullFileContext } from './fetch-units.js';
import { partialPath } from './pull-file.js';
import type { FreshTree } from './pull-fresh.js';
import { statAt, type ChunkToWrite, type FileStat, type JobReply } from './small-file-jobs.js';
import { SmallFileWriter, type WriterSlot } from './small-file-writer.js';

// The books of a pull's small files (pull-small.ts): which partial each file is built in, which files each chunk
// makes, which partials are built, and each fresh file's stat as written. Files of the same content share one partial
// in `.aim/partial`; a file in a fresh folder (pull-fresh.ts) has its own, at its path.

/**
 * The mode a pulled file gets: the manifest's permission bits (none, or none given: 0644) less the umask's, as cp, git
 * and tar (for a user but root) make files. The repository's word is not enough to make a teammate's files writable by
 * other users, or setuid.
 */
export const fileMode = (file: ManifestFile): number => (file.mode & 0o777 || 0o644) & ~umaskBits();

/**
 * Small files in fresh top-level folders (pull-fresh.ts): each is built at its own path in `tree`, whose top-level
 * folders are renamed into DEST whole.
 */
export interface FreshFiles {
  tree: FreshTree;
  files: Set<ManifestFile>;
}

/**
 * Files grouped by the partial they are built in, and the partials built. Files of the same content share one
 * partial in `.aim/partial`, built once; a file in a fresh folder has its own, at its path.
 */
export class SmallFiles {
  /** Files of the same content in `.aim/partial`, by digest; a file in a fresh folder is in none. */
  private readonly groups = new Map<Digest, ManifestFile[]>();
  /** The first file of each partial, in the order given. */
  private readonly firsts: ManifestFile[] = [];
  /** Files of each chunk digest, one per partial. */
  readonly byChunk = new Map<Digest, ManifestFile[]>();
  /** The file of every partial built or kept: each partial must be durable before the pull may rename it. */
  readonly builtFiles: ManifestFile[] = [];
  /** Each fresh file's stat as written (pull-fresh.ts: the rename of its folder leaves it as it is). */
  readonly written = new Map<ManifestFile, FileStat>();

  constructor(
    files: ManifestFile[],
    readonly folder: string,
    readonly writer: SmallFileWriter,
    private readonly context: PullFileContext,
    private readonly fresh?: FreshFiles,
  ) {
    for (const file of files) {
      const same = this.isFresh(file) ? undefined : this.groups.get(file.digest);
      if (same) same.push(file);
      else this.firsts.push(file);
      if (!same && !this.isFresh(file)) this.groups.set(file.digest, [file]);
    }
  }

  isFresh(file: ManifestFile): boolean {
    return this.fresh?.files.has(file) ?? false;
  }

  /** Where the file is built. */
  partialOf(file: ManifestFile): string {
    return this.isFresh(file) ? this.fresh!.tree.pathOf(file) : partialPath(this.folder, file);
  }

  /** The first file of each partial. */
  unique(): ManifestFile[] {
    return this.firsts;
  }

  /** The path of every partial built or kept, made only when asked for (where the file system cannot be synced whole). */
  *builtPaths(): Iterable<string> {
    for (const file of this.builtFiles) yield this.partialOf(file);
  }

  /** The partials (path, mode, whether its stat comes back) to write from `files`. */
  partialsOf(files: ManifestFile[]): Array<[string, number, boolean]> {
    return files.map((file) => [this.partialOf(file), fileMode(file), this.isFresh(file)]);
  }

  /**
   * The partials of `files` are written (given to the writer in this order): each is built, and a fresh one takes its
   * stat from `numbers` (a reply's `written`: four numbers a fresh file, in order) as far as they go. Returns how
   * many stats were taken, where the next file's begin.
   */
  builtWith(files: ManifestFile[], numbers: Float64Array | undefined, taken = 0): number {
    for (const file of files) {
      if (this.isFresh(file) && numbers && (taken + 1) * 4 <= numbers.length) this.written.set(file, statAt(numbers, taken++));
      this.built(file);
    }
    return taken;
  }

  /** Writes the file's partial from its checked bytes. */
  async write(file: ManifestFile, bytes: Uint8Array): Promise<void> {
    const reply = await handOver(this.writer, bytes, 0, [{ start: 0, end: bytes.length, files: this.partialsOf([file]) }]);
    this.builtWith([file], reply.written);
  }

  /**
   * The file's partial is built: progress moves by every file that shares it, and those after the first count as
   * skipped (made from the same bytes, not fetched again), so the summary adds up to the version's size.
   */
  built(file: ManifestFile): void {
    this.builtFiles.push(file);
    // A file of a fresh folder has its partial to itself.
    const sharing = this.isFresh(file) ? [file] : (this.groups.get(file.digest) ?? []);
    for (let index = 0; index < sharing.length; index++) {
      this.context.task.advance(sharing[index]!.size);
      if (index > 0) this.context.counters.bytesReused += sharing[index]!.size;
    }
  }
}

/**
 * Has the writer check and write `chunks` of `bytes` (read from file offset `offset`): through `held` or a slot
 * taken for it, with the bytes copied in unless they landed there; on this thread when they do not fit a slot.
 */
export async function handOver(writer: SmallFileWriter, bytes: Uint8Array, offset: number, chunks: ChunkToWrite[], held?: WriterSlot): Promise<JobReply> {
  if (!SmallFileWriter.fits(bytes.length)) return writer.writeHere(bytes, chunks);
  const slot = held ?? (await writer.take());
  try {
    const landing = slot.landing(offset, bytes.length);
    if (bytes !== landing) landing.set(bytes);
    return await slot.write(chunks);
  } finally {
    if (!held) slot.release();
  }
}
