import { constants } from 'node:fs';
import { readdir, rename, rm } from 'node:fs/promises';
import { TaskPool } from '../../lib/concurrently.js';
import { openRegular, readFully } from '../../lib/safe-fs.js';
import { syncFilesTogether } from '../../lib/sync-file-system.js';
import { digestHex, type Digest } from '../format/digest.js';
import type { ManifestFile } from '../format/manifest.js';
import { packKey } from '../store/packs.js';
import { MAX_RUN_BYTES } from './chunk-buffers.js';
import { explainBadChunk, fetchChunk, readLocalCopy, readStored, type PullFileContext } from './fetch-units.js';
import { planPackReads, type PackRead, type PlannedChunk } from './pack-reads.js';
import { partialPath } from './pull-file.js';
import type { ChunkToWrite, FileStat } from './small-file-jobs.js';
import { fileMode, handOver, SmallFiles, type FreshFiles } from './small-file-set.js';
import { SmallFileWriter, type WriterSlot } from './small-file-writer.js';

// Files of one chunk or none (most files of a tree of configs, tokenizers and shards' metadata) are pulled together,
// not one by one: their chunks are read per pack (pack-reads.ts), several reads in flight, and each read goes to the
// small-file writer's worker thread, which checks each chunk against its digest and writes the files it makes to
// `.aim/partial/<digest>` (small-file-writer.ts). When all are written they are made durable together, in one pass
// (lib/sync-file-system.ts), and only then may the pull rename them into place. A sync per file made each file wait
// for a flush of the disk.
//
// They keep no journal: a file of one chunk is either whole or fetched again. A pull killed midway leaves partials,
// perhaps never synced, that the next pull finds in the folder's listing and checks (size and digest; a match is
// kept and synced with the rest, anything else is replaced), so a resumed pull fetches only what is missing.

/** A file the small-file path builds: one chunk or none. */
export const isSmallFile = (file: ManifestFile): boolean => file.chunks.length <= 1;

/** Leftovers and local copies checked at once (each a read of a file on disk). */
const FILES_IN_FLIGHT = 32;
/** Reads from a remote repository in flight, bounded in bytes as a big file's runs are (pull-file.ts). */
const READ_BUDGET_BYTES = 3 * MAX_RUN_BYTES;

/**
 * Builds, for each content among `files` (each of one chunk or none), its partial in `folder`, checked; `partialPath`
 * names it. Resolves once all are written, with `durable`, which settles once they are all synced: the caller renames
 * none before. Throws the repository's error for a chunk missing or corrupt (partials already built stay for the next
 * pull, which checks them again; nothing under DEST's final names has changed).
 */
export async function stageSmallFiles(
  files: ManifestFile[],
  folder: string,
  context: PullFileContext,
  writer: SmallFileWriter,
  fresh?: FreshFiles,
): Promise<{ durable: Promise<void>; written: Map<ManifestFile, FileStat> }> {
  const small = new SmallFiles(files, folder, writer, context, fresh);
  const wanted = await reuseWhatIsOnDisk(small, context);
  for (const file of wanted) {
    const waiting = small.byChunk.get(file.chunks[0]!.digest);
    if (waiting) waiting.push(file);
    else small.byChunk.set(file.chunks[0]!.digest, [file]);
  }
  const plan = planPackReads(wanted.map((file) => file.chunks[0]!), context.index);
  const reads = new TaskPool(context.concurrency);
  let bytesInFlight = 0;
  for (const read of withShortHead(plan.reads)) {
    await reads.room(() => bytesInFlight + read.length <= READ_BUDGET_BYTES);
    if (reads.failure) break;
    bytesInFlight += read.length;
    reads.start(() => buildFromPackRead(read, small, context).finally(() => (bytesInFlight -= read.length)));
  }
  for (const chunk of plan.unpacked) {
    await reads.room(() => bytesInFlight + chunk.size <= READ_BUDGET_BYTES);
    if (reads.failure) break;
    bytesInFlight += chunk.size;
    reads.start(async () => writeChunkFiles(chunk.digest, await fetchChunk(context, chunk.digest, Buffer.allocUnsafe(chunk.size)), small).finally(() => (bytesInFlight -= chunk.size)));
  }
  await reads.drain();
  // The one durability barrier: a partial written since the last one may still be only in the page cache.
  const durable = small.builtFiles.length > 0 ? syncFilesTogether(folder, small.builtPaths()) : Promise.resolve();
  // Awaited by the caller before any rename; until then a failure here must not count as unhandled.
  durable.catch(() => undefined);
  return { durable, written: small.written };
}

/** About the size of the first read: the writer starts on its files while the next, full-sized reads come in. */
const HEAD_BYTES = 256 * 1024;

/** `reads` with the first cut after its first HEAD_BYTES or so (reads in flight share the disk: a full first one waits). */
function withShortHead(reads: PackRead[]): PackRead[] {
  const [first, ...rest] = reads;
  const cut = first ? first.chunks.findIndex((chunk) => chunk.offset + chunk.size - first.offset > HEAD_BYTES) : -1;
  if (!first || cut <= 0) return reads;
  const head = first.chunks.slice(0, cut);
  const tail = first.chunks.slice(cut);
  const headEnd = head.at(-1)!.offset + head.at(-1)!.size;
  return [
    { pack: first.pack, offset: first.offset, length: headEnd - first.offset, chunks: head },
    { pack: first.pack, offset: tail[0]!.offset, length: first.offset + first.length - tail[0]!.offset, chunks: tail },
    ...rest,
  ];
}

/**
 * Builds the files that need nothing fetched (empty ones, those a leftover partial or a local copy already holds);
 * returns the others. Only files with something on disk to check cost a read.
 */
async function reuseWhatIsOnDisk(small: SmallFiles, context: PullFileContext): Promise<ManifestFile[]> {
  const leftovers = new Set(await readdir(small.folder).catch(() => [] as string[]));
  // Two names a file to look up, made only when there is anything to find (a new DEST has no leftovers).
  const hasLeftover = (file: ManifestFile) => leftovers.size > 0 && (leftovers.has(digestHex(file.digest)) || leftovers.has(`${digestHex(file.digest)}.journal`));
  const wanted: ManifestFile[] = [];
  const toCheck: ManifestFile[] = [];
  for (const file of small.unique()) {
    const chunk = file.chunks[0];
    if (hasLeftover(file) || (chunk && context.locator.has(chunk.digest))) toCheck.push(file);
    else if (chunk) wanted.push(file);
    else await small.write(file, EMPTY);
  }
  await forEachWithinBudget(toCheck, async (file) => {
    // A journal beside it is an older pull's, which journaled every file.
    if (leftovers.has(`${digestHex(file.digest)}.journal`)) await rm(`${partialPath(small.folder, file)}.journal`, { force: true });
    if (leftovers.has(digestHex(file.digest)) && (await takeLeftover(small, file, context))) {
      context.counters.bytesReused += file.size; // an earlier pull fetched it
      small.built(file);
    } else if (file.chunks.length === 0) await small.write(file, EMPTY);
    else if (!(await fromLocalCopy(small, file, context))) wanted.push(file);
  });
  return wanted;
}

const EMPTY = new Uint8Array(0);

/**
 * Runs `check` on each file, FILES_IN_FLIGHT at once and at most READ_BUDGET_BYTES of their bytes held (a bigger file
 * alone): each check reads its file whole, and a repository may cut files of one chunk of up to 64 MiB.
 */
async function forEachWithinBudget(files: ManifestFile[], check: (file: ManifestFile) => Promise<void>): Promise<void> {
  const checks = new TaskPool(FILES_IN_FLIGHT);
  let held = 0;
  for (const file of files) {
    await checks.room(() => held + file.size <= READ_BUDGET_BYTES);
    if (checks.failure) break;
    held += file.size;
    checks.start(() => check(file).finally(() => (held -= file.size)));
  }
  await checks.drain();
}

/**
 * One ranged read of a pack into a slot of the writer's memory; the writer checks each of its chunks and writes the
 * files they make. A folder repository's read lands in the slot itself; a remote one's reply is copied in.
 */
async function buildFromPackRead(read: PackRead, small: SmallFiles, context: PullFileContext): Promise<void> {
  const backend = context.repo.backend;
  let slot: WriterSlot | undefined;
  let buffer: Buffer | undefined;
  try {
    if (backend.localFiles && SmallFileWriter.fits(read.length)) slot = await small.writer.take();
    const target = slot ? slot.landing(read.offset, read.length) : (buffer = context.buffers.take(read.length));
    const bytes = await readStored(backend, packKey(read.pack), target, read.offset);
    if (!bytes) return await explainBadChunk(context, read.chunks[0]!.digest);
    if (!small.writer.checksChunks) await checkHere(read, bytes, context);
    const reply = await handOver(small.writer, bytes, read.offset, read.chunks.map((chunk) => toWrite(chunk, read, small)), slot);
    const done = read.chunks.slice(0, reply.done);
    let taken = 0;
    for (const chunk of done) {
      context.counters.bytesTransferred += chunk.size;
      taken = small.builtWith(small.byChunk.get(chunk.digest) ?? [], reply.written, taken);
    }
    if (reply.corrupt) await explainBadChunk(context, read.chunks[reply.done]!.digest);
  } finally {
    slot?.release();
    if (buffer) context.buffers.give(buffer);
  }
}

/** The chunk as the writer takes it: where it lies in the read, its digest (when the writer checks), its files. */
function toWrite(chunk: PlannedChunk, read: PackRead, small: SmallFiles): ChunkToWrite {
  const start = chunk.offset - read.offset;
  const hex = small.writer.checksChunks ? digestHex(chunk.digest) : undefined;
  return { start, end: start + chunk.size, hex, files: small.partialsOf(small.byChunk.get(chunk.digest) ?? []) };
}

/** Checks each chunk of the read on this thread (hash-wasm, without native BLAKE3 for the writer to use). */
async function checkHere(read: PackRead, bytes: Buffer, context: PullFileContext): Promise<void> {
  for (const chunk of read.chunks) {
    const start = chunk.offset - read.offset;
    if ((await context.pool.hashChunk(bytes.subarray(start, start + chunk.size))).digest !== chunk.digest) await explainBadChunk(context, chunk.digest);
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
 * keepLeftover, for a file built where `small` says: a leftover kept for a file of a fresh folder moves there, and
 * one not kept is removed (no partial of that name is written over it).
 */
async function takeLeftover(small: SmallFiles, file: ManifestFile, context: PullFileContext): Promise<boolean> {
  const kept = await keepLeftover(small.folder, file, context);
  if (!small.isFresh(file)) return kept;
  const leftover = partialPath(small.folder, file);
  if (kept) await rename(leftover, small.partialOf(file));
  else await rm(leftover, { force: true }).catch(() => undefined); // a folder planted there stays, unused
  return kept;
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
