import { constants } from 'node:fs';
import { open, readdir, rm, unlink, type FileHandle } from 'node:fs/promises';
import { TaskPool, forEachConcurrently } from '../../lib/concurrently.js';
import { openRegular, readFully } from '../../lib/safe-fs.js';
import { digestHex, type Digest } from '../format/digest.js';
import type { ManifestFile } from '../format/manifest.js';
import { packKey } from '../store/packs.js';
import { MAX_RUN_BYTES } from './chunk-buffers.js';
import { explainBadChunk, fetchChunk, readLocalCopy, readStored, type PullFileContext } from './fetch-units.js';
import { planPackReads, type PackRead } from './pack-reads.js';
import { partialPath } from './pull-file.js';

// Files of one chunk or none (most files of a tree of configs, tokenizers and shards' metadata) are pulled together,
// not one by one: their chunks are read per pack (pack-reads.ts), each chunk checked against its digest, and the
// files it makes are written to `.aim/partial/<digest>` many at a time, each durable (O_DSYNC) before the pull may
// rename it into place. One by one, each file cost a ranged read, a journal, a sync and a rename in turn, with the event loop
// idle in between.
//
// They keep no journal: a file of one chunk is either whole or fetched again. A pull killed midway leaves partials
// that the next pull finds in the folder's listing and checks (size and digest; a match is synced and kept, anything
// else is replaced), so a resumed pull fetches only what is missing.

/** A file the small-file path builds: one chunk or none. */
export const isSmallFile = (file: ManifestFile): boolean => file.chunks.length <= 1;

/** Files written at once: each durable write waits for the disk, which serves many in parallel. */
const FILES_IN_FLIGHT = 32;
/** Pack reads in flight, bounded in bytes as a big file's runs are (pull-file.ts). */
const READ_BUDGET_BYTES = 3 * MAX_RUN_BYTES;

/** The mode a pulled file gets (a manifest without one, or with none of the permission bits, gives 0644). */
export const fileMode = (file: ManifestFile): number => file.mode & 0o777 || 0o644;

/** Files grouped by content: those with the same digest share one partial, built once. */
class SmallFiles {
  readonly byDigest = new Map<Digest, ManifestFile[]>();
  /** Unique files waiting for each chunk digest. */
  readonly byChunk = new Map<Digest, ManifestFile[]>();

  constructor(
    files: ManifestFile[],
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

  /** The file's partial is built: progress moves by every file that shares it. */
  built(file: ManifestFile): void {
    for (const same of this.byDigest.get(file.digest) ?? []) this.context.task.advance(same.size);
  }
}

/**
 * Builds, for each content among `files` (each of one chunk or none), its partial in `folder`, checked and synced;
 * `partialPath` names it. Throws the repository's error for a chunk missing or corrupt (partials already built stay
 * for the next pull; nothing under DEST's final names has changed).
 */
export async function stageSmallFiles(files: ManifestFile[], folder: string, context: PullFileContext): Promise<void> {
  const small = new SmallFiles(files, context);
  const leftovers = new Set(await readdir(folder).catch(() => [] as string[]));
  const wanted: ManifestFile[] = [];
  await forEachConcurrently(small.unique(), FILES_IN_FLIGHT, async (file) => {
    // A journal beside it is an older pull's, which journaled every file.
    if (leftovers.has(`${digestHex(file.digest)}.journal`)) await rm(`${partialPath(folder, file)}.journal`, { force: true });
    if (leftovers.has(digestHex(file.digest)) && (await keepLeftover(folder, file, context))) small.built(file);
    else if (file.chunks.length === 0) {
      await writePartial(partialPath(folder, file), Buffer.alloc(0), fileMode(file));
      small.built(file);
    } else if (!(await fromLocalCopy(folder, file, context))) wanted.push(file);
    else small.built(file);
  });
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
    reads.start(() => buildFromPackRead(read, folder, small, context).finally(() => (bytesInFlight -= read.length)));
  }
  for (const chunk of plan.unpacked) {
    await reads.room();
    if (reads.failure) break;
    reads.start(async () => {
      const bytes = await fetchChunk(context, chunk.digest, Buffer.allocUnsafe(chunk.size));
      await writeChunkFiles(chunk.digest, bytes, folder, small);
    });
  }
  await reads.drain();
}

/** One ranged read of a pack: each of its chunks checked, then the files it makes written. */
async function buildFromPackRead(read: PackRead, folder: string, small: SmallFiles, context: PullFileContext): Promise<void> {
  const buffer = context.buffers.take(read.length);
  try {
    const bytes = await readStored(context.repo.backend, packKey(read.pack), buffer, read.offset);
    if (!bytes) return await explainBadChunk(context, read.chunks[0]!.digest);
    await forEachConcurrently(read.chunks, FILES_IN_FLIGHT, async (chunk) => {
      const slice = bytes.subarray(chunk.offset - read.offset, chunk.offset - read.offset + chunk.size);
      const checked = await context.pool.hashChunk(slice);
      if (checked.digest !== chunk.digest) await explainBadChunk(context, chunk.digest);
      context.counters.bytesTransferred += chunk.size;
      await writeChunkFiles(chunk.digest, checked.bytes, folder, small);
    });
  } finally {
    context.buffers.give(buffer);
  }
}

/** Writes the partial of every file made of the checked chunk `digest`. */
async function writeChunkFiles(digest: Digest, bytes: Buffer, folder: string, small: SmallFiles): Promise<void> {
  for (const file of small.byChunk.get(digest) ?? []) {
    await writePartial(partialPath(folder, file), bytes, fileMode(file));
    small.built(file);
  }
}

/** The file built from its chunk in a file already on local disk (the installed older version); false when that fails its check. */
async function fromLocalCopy(folder: string, file: ManifestFile, context: PullFileContext): Promise<boolean> {
  const chunk = file.chunks[0]!;
  const source = context.locator.get(chunk.digest);
  if (!source) return false;
  const bytes = Buffer.allocUnsafe(chunk.size);
  if ((await readLocalCopy(source, bytes)) !== chunk.size) return false;
  const checked = await context.pool.hashChunk(bytes);
  if (checked.digest !== chunk.digest) return false;
  await writePartial(partialPath(folder, file), checked.bytes, fileMode(file));
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
    await handle.chmod(fileMode(file));
    // Whole in the page cache is not yet on disk (a killed pull): synced before anything renames it into place.
    await handle.sync();
    return true;
  } finally {
    await handle.close();
  }
}

/** Created exclusively, never through a link, and each write durable before it returns (no fsync call to wait for). */
const CREATE_DURABLE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW | constants.O_DSYNC;

/**
 * The permission bits the umask takes from a new file, learnt from the first file this process creates: the umask
 * cannot be read without setting it, which would race with files created on libuv's other threads. Files whose mode
 * keeps clear of it need no chmod.
 */
let umaskBits: number | undefined;

/** Writes `bytes` as the new file at `path` with `mode`, durably. */
async function writePartial(path: string, bytes: Uint8Array, mode: number): Promise<void> {
  const learning = umaskBits === undefined;
  const handle = await createPartial(path, learning ? 0o777 : mode);
  try {
    if (learning) umaskBits = 0o777 & ~(await handle.stat()).mode;
    if (learning || (mode & umaskBits!) !== 0) await handle.chmod(mode);
    if (bytes.length > 0) await handle.writeFile(bytes);
    else await handle.sync(); // no O_DSYNC write happened: the new, empty inode itself must reach the disk
  } finally {
    await handle.close();
  }
}

/**
 * Creates the file at `path` exclusively. A name already taken (a partial that failed its check, or anything planted
 * there) is removed first and never written through: a hard link planted there would share its bytes with a file
 * outside DEST. A folder there is refused with its plain error.
 */
async function createPartial(path: string, mode: number): Promise<FileHandle> {
  try {
    return await open(path, CREATE_DURABLE, mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  await unlink(path).catch(async () => (await openRegular(path)).close());
  return open(path, CREATE_DURABLE, mode);
}
