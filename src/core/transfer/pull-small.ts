import { constants } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { TaskPool, forEachConcurrently } from '../../lib/concurrently.js';
import { openRegular, readFully } from '../../lib/safe-fs.js';
import { syncFilesTogether } from '../../lib/sync-file-system.js';
import { digestHex, type Digest } from '../format/digest.js';
import type { ManifestFile } from '../format/manifest.js';
import { packKey } from '../store/packs.js';
import { MAX_RUN_BYTES } from './chunk-buffers.js';
import { explainBadChunk, fetchChunk, readLocalCopy, readStored, type PullFileContext } from './fetch-units.js';
import { planPackReads, type PackRead, type PlannedChunk } from './pack-reads.js';
import { partialPath } from './pull-file.js';
import { writePartial } from './pull-partial-write.js';

// Files of one chunk or none (most files of a tree of configs, tokenizers and shards' metadata) are pulled together,
// not one by one: their chunks are read per pack (pack-reads.ts), several reads in flight, each chunk checked against
// its digest, and the files it makes written to `.aim/partial/<digest>` as it comes (pull-partial-write.ts). When all
// are written they are made durable together, in one pass (lib/sync-file-system.ts), and only then may the pull rename
// them into place. A sync per file made each file wait for a flush of the disk.
//
// They keep no journal: a file of one chunk is either whole or fetched again. A pull killed midway leaves partials,
// perhaps never synced, that the next pull finds in the folder's listing and checks (size and digest; a match is
// kept and synced with the rest, anything else is replaced), so a resumed pull fetches only what is missing.

/** A file the small-file path builds: one chunk or none. */
export const isSmallFile = (file: ManifestFile): boolean => file.chunks.length <= 1;

/** Files built at once: leftovers and local copies checked (each a read of a file on disk), new partials created. */
const FILES_IN_FLIGHT = 32;
/** Pack reads in flight, bounded in bytes as a big file's runs are (pull-file.ts). */
const READ_BUDGET_BYTES = 3 * MAX_RUN_BYTES;

/** The mode a pulled file gets (a manifest without one, or with none of the permission bits, gives 0644). */
export const fileMode = (file: ManifestFile): number => file.mode & 0o777 || 0o644;

/** Files grouped by content (those with the same digest share one partial, built once), and the partials built. */
class SmallFiles {
  readonly byDigest = new Map<Digest, ManifestFile[]>();
  /** Unique files waiting for each chunk digest. */
  readonly byChunk = new Map<Digest, ManifestFile[]>();
  /** Every partial built or kept: each must be durable before the pull may rename it. */
  readonly paths: string[] = [];

  constructor(
    files: ManifestFile[],
    readonly folder: string,
    private readonly context: PullFileContext,
  ) {
    for (const file of files) {
      const same = this.byDigest.get(file.digest);
      if (same) same.push(file);
      else this.byDigest.set(file.digest, [file]);
    }
  }

  /** The first file of each content. */
  unique(): ManifestFile[] {
    return [...this.byDigest.values()].map((same) => same[0]!);
  }

  /** Writes the file's partial from its checked bytes. */
  async write(file: ManifestFile, bytes: Uint8Array): Promise<void> {
    await writePartial(partialPath(this.folder, file), bytes, fileMode(file));
    this.built(file);
  }

  /**
   * The file's partial is built: progress moves by every file that shares it, and those after the first count as
   * skipped (made from the same bytes, not fetched again), so the summary adds up to the version's size.
   */
  built(file: ManifestFile): void {
    this.paths.push(partialPath(this.folder, file));
    for (const [index, same] of (this.byDigest.get(file.digest) ?? []).entries()) {
      this.context.task.advance(same.size);
      if (index > 0) this.context.counters.bytesReused += same.size;
    }
  }
}

/**
 * Builds, for each content among `files` (each of one chunk or none), its partial in `folder`, checked and durable;
 * `partialPath` names it. Throws the repository's error for a chunk missing or corrupt (partials already built stay
 * for the next pull, which checks them again; nothing under DEST's final names has changed).
 */
export async function stageSmallFiles(files: ManifestFile[], folder: string, context: PullFileContext): Promise<void> {
  const small = new SmallFiles(files, folder, context);
  const wanted = await reuseWhatIsOnDisk(small, context);
  for (const file of wanted) {
    const waiting = small.byChunk.get(file.chunks[0]!.digest);
    if (waiting) waiting.push(file);
    else small.byChunk.set(file.chunks[0]!.digest, [file]);
  }
  const plan = planPackReads(wanted.map((file) => file.chunks[0]!), context.index);
  const reads = new TaskPool(context.concurrency);
  let bytesInFlight = 0;
  for (const read of plan.reads) {
    await reads.room(() => bytesInFlight + read.length <= READ_BUDGET_BYTES);
    if (reads.failure) break;
    bytesInFlight += read.length;
    reads.start(() => buildFromPackRead(read, small, context).finally(() => (bytesInFlight -= read.length)));
  }
  for (const chunk of plan.unpacked) {
    await reads.room();
    if (reads.failure) break;
    reads.start(async () => writeChunkFiles(chunk.digest, await fetchChunk(context, chunk.digest, Buffer.allocUnsafe(chunk.size)), small));
  }
  await reads.drain();
  // The one durability barrier: a partial written since the last one may still be only in the page cache.
  if (small.paths.length > 0) await syncFilesTogether(folder, small.paths);
}

/**
 * Builds the files that need nothing fetched (empty ones, those a leftover partial or a local copy already holds);
 * returns the others. Only files with something on disk to check cost a read.
 */
async function reuseWhatIsOnDisk(small: SmallFiles, context: PullFileContext): Promise<ManifestFile[]> {
  const leftovers = new Set(await readdir(small.folder).catch(() => [] as string[]));
  const hasLeftover = (file: ManifestFile) => leftovers.has(digestHex(file.digest)) || leftovers.has(`${digestHex(file.digest)}.journal`);
  const wanted: ManifestFile[] = [];
  const toCheck: ManifestFile[] = [];
  for (const file of small.unique()) {
    const chunk = file.chunks[0];
    if (hasLeftover(file) || (chunk && context.locator.has(chunk.digest))) toCheck.push(file);
    else if (chunk) wanted.push(file);
    else await small.write(file, EMPTY);
  }
  await forEachConcurrently(toCheck, FILES_IN_FLIGHT, async (file) => {
    // A journal beside it is an older pull's, which journaled every file.
    if (leftovers.has(`${digestHex(file.digest)}.journal`)) await rm(`${partialPath(small.folder, file)}.journal`, { force: true });
    if (leftovers.has(digestHex(file.digest)) && (await keepLeftover(small.folder, file, context))) {
      context.counters.bytesReused += file.size; // an earlier pull fetched it
      small.built(file);
    } else if (file.chunks.length === 0) await small.write(file, EMPTY);
    else if (!(await fromLocalCopy(small, file, context))) wanted.push(file);
  });
  return wanted;
}

const EMPTY = new Uint8Array(0);

/** One ranged read of a pack: each of its chunks checked, then the files it makes written, several creates at once. */
async function buildFromPackRead(read: PackRead, small: SmallFiles, context: PullFileContext): Promise<void> {
  const buffer = context.buffers.take(read.length);
  try {
    const bytes = await readStored(context.repo.backend, packKey(read.pack), buffer, read.offset);
    if (!bytes) return await explainBadChunk(context, read.chunks[0]!.digest);
    const build = async (chunk: PlannedChunk) => {
      const slice = bytes.subarray(chunk.offset - read.offset, chunk.offset - read.offset + chunk.size);
      const checked = await context.pool.hashChunk(slice);
      if (checked.digest !== chunk.digest) await explainBadChunk(context, chunk.digest);
      context.counters.bytesTransferred += chunk.size;
      await writeChunkFiles(chunk.digest, checked.bytes, small);
    };
    for (let first = 0; first < read.chunks.length; first += FILES_IN_FLIGHT) {
      // Every write from the buffer settles before it goes back to the pool, failed or not.
      const results = await Promise.allSettled(read.chunks.slice(first, first + FILES_IN_FLIGHT).map(build));
      const failed = results.find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
    }
  } finally {
    context.buffers.give(buffer);
  }
}

/** Writes the partial of every file made of the checked chunk `digest`. */
async function writeChunkFiles(digest: Digest, bytes: Buffer, small: SmallFiles): Promise<void> {
  for (const file of small.byChunk.get(digest) ?? []) await small.write(file, bytes);
}

/** The file built from its chunk in a file already on local disk (the installed older version); false when that fails its check. */
async function fromLocalCopy(small: SmallFiles, file: ManifestFile, context: PullFileContext): Promise<boolean> {
  const chunk = file.chunks[0]!;
  const source = context.locator.get(chunk.digest);
  if (!source) return false;
  const bytes = Buffer.allocUnsafe(chunk.size);
  if ((await readLocalCopy(source, bytes)) !== chunk.size) return false;
  const checked = await context.pool.hashChunk(bytes);
  if (checked.digest !== chunk.digest) return false;
  await small.write(file, checked.bytes);
  context.counters.bytesReused += chunk.size;
  return true;
}

/**
 * A partial an earlier pull left, kept (synced, with the file's mode) when it holds exactly the file's chunk; false
 * when it does not, or is not a regular file of its own (it is then replaced).
 */
async function keepLeftover(folder: string, file: ManifestFile, context: PullFileContext): Promise<boolean> {
  const handle = await openRegular(partialPath(folder, file), constants.O_RDONLY).catch(() => undefined);
  if (!handle) return false;
  try {
    // A second name (a hard link planted there) shares its bytes and mode with a file elsewhere: not touched.
    if ((await handle.stat()).nlink !== 1) return false;
    const bytes = Buffer.allocUnsafe(file.size + 1); // one more: a longer file is not the file
    if ((await readFully(handle, bytes, 0)) !== file.size) return false;
    const chunk = file.chunks[0];
    if (chunk && (await context.pool.hashChunk(bytes.subarray(0, file.size))).digest !== chunk.digest) return false;
    // Whole in the page cache is not yet on disk (a killed pull): the barrier at the end syncs it with the rest.
    await handle.chmod(fileMode(file));
    return true;
  } finally {
    await handle.close();
  }
}
