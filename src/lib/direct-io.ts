import { constants } from 'node:fs';
import { open, statfs, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StorageError } from './errors.js';

// Big files go around the page cache (O_DIRECT): pulled files, and a local repository's chunks and packs, written
// and read. Why: both sides fsync what they write anyway, so the cache only costs; a 70 GB push or pull no longer
// evicts everything else from it; and on a virtual machine that hands freed memory back to its host (free-page
// reporting, as on the project's test machines) every fresh page-cache page costs a fault in the host: there, 2 GiB
// took 8 s of system time to write buffered and 0.6 s direct, and 5.7 s against 0.2 s to read cold (dd, bs=8M).
// Only local disk file systems take this path (NFS, FUSE and tmpfs keep the usual one), and AIM_DIRECT_IO=0 turns
// it off.
//
// O_DIRECT wants the buffer, the file offset and the length aligned to the device's block (512 or 4096 bytes), while
// chunks start anywhere. A whole file (a chunk) is copied into an aligned buffer, padded and cut to size after. A
// pulled file's writes are split: their whole blocks go through an aligned staging buffer, and the partial blocks at
// either end ("edges") wait in aligned block buffers until the neighbouring writes fill them. A ranged read reads the
// aligned blocks around the range and copies the range out. A file system that refuses O_DIRECT (EINVAL) gets the
// usual reads and writes.

const BLOCK = 4096;
const STAGING_BYTES = 8 * 1024 * 1024;
/** Below this, a pulled file is written the usual way: the saving is small and most of its blocks would be edges. */
const MIN_DIRECT_FILE = 4 * 1024 * 1024;
/** Below this, a file written whole (a stored chunk) is written the usual way: manifests, tags, small chunks. */
const MIN_DIRECT_WHOLE_FILE = 64 * 1024;
/** statfs types of local disk file systems where O_DIRECT is the usual, fast path (not NFS, FUSE or tmpfs). */
const DIRECT_FILE_SYSTEMS = new Set([0xef53 /* ext2/3/4 */, 0x58465342 /* xfs */, 0x9123683e /* btrfs */, 0xf2f52010 /* f2fs */]);

const alignDown = (n: number): number => n - (n % BLOCK);
const alignUp = (n: number): number => alignDown(n + BLOCK - 1);

/** The memories behind aligned buffers: a write of data in one of them needs no aligned copy. */
const alignedMemories = new WeakSet<ArrayBufferLike>();

/**
 * Memory whose first byte sits on a page boundary. Buffers come from malloc and start 16 bytes past one; a
 * WebAssembly memory is a page-aligned mapping of its own.
 */
function alignedBuffer(size: number): Buffer {
  const pages = Math.ceil(size / 65536);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer;
  alignedMemories.add(memory);
  return Buffer.from(memory, 0, size);
}

/**
 * A buffer for data that will be written whole as a new file (a pack): when it can, page-aligned memory, which a
 * direct write takes as it is instead of copying it into aligned memory first. Plain memory where no more can be
 * mapped (ulimit -v).
 */
export function bufferForDirectWrite(size: number): Buffer {
  try {
    return alignedBuffer(size);
  } catch {
    return Buffer.allocUnsafeSlow(size);
  }
}

/**
 * A view of `size` bytes of `base` (from bufferForDirectWrite, a block longer than any view asked of it) whose
 * address sits where file offset `position` sits in its block: the whole blocks of data written there at `position`
 * are aligned in memory as in the file, so a DirectWriter writes them in place instead of copying them first.
 */
export function viewForPosition(base: Buffer, position: number, size: number): Buffer {
  const at = position % BLOCK;
  return base.subarray(at, at + size);
}

/** How much longer than its longest view a base buffer for viewForPosition must be. */
export const VIEW_SLACK = BLOCK;

/** Whole-file buffers come in powers of two from this size, so that freed ones fit the next chunks. */
const MIN_FILE_BUFFER = 4 * 1024 * 1024;
/** Freed whole-file buffers kept for reuse; more are dropped (each is also an address-space reservation). */
const MAX_FREE_FILE_BUFFERS = 8;

/**
 * Whether the direct path was refused rather than failed: EINVAL (the file system wants other alignment) or a
 * RangeError from mapping aligned memory (a capped address space, ulimit -v). Either way, the usual path serves.
 */
function refused(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'EINVAL' || error instanceof RangeError;
}

/**
 * Aligned memory shared by the whole process: whole-file buffers for chunks read and written, and, for pulled files,
 * one staging buffer and block buffers for edges.
 */
class AlignedMemory {
  private staging: Buffer | undefined;
  private stagingBusy: Promise<void> = Promise.resolve();
  private readonly freeBlocks: Buffer[] = [];
  private readonly freeFileBuffers: Buffer[] = [];

  block(): Buffer {
    if (this.freeBlocks.length === 0) {
      const slab = alignedBuffer(64 * BLOCK);
      for (let at = 0; at < slab.length; at += BLOCK) this.freeBlocks.push(slab.subarray(at, at + BLOCK));
    }
    return this.freeBlocks.pop()!.fill(0);
  }

  /** Allocates the staging buffer now (a DirectWriter needs it); false where no more memory can be mapped (ulimit -v). */
  available(): boolean {
    try {
      this.staging ??= alignedBuffer(STAGING_BYTES);
      return true;
    } catch {
      return false;
    }
  }

  giveBlock(block: Buffer): void {
    this.freeBlocks.push(block);
  }

  /** An aligned buffer of at least `size` bytes (rounded up to whole blocks) for one whole-file read or write. */
  takeFileBuffer(size: number): Buffer {
    const index = this.freeFileBuffers.findIndex((buffer) => buffer.length >= size);
    if (index >= 0) return this.freeFileBuffers.splice(index, 1)[0]!;
    let capacity = MIN_FILE_BUFFER;
    while (capacity < size) capacity *= 2;
    return alignedBuffer(capacity);
  }

  giveFileBuffer(buffer: Buffer): void {
    if (this.freeFileBuffers.length < MAX_FREE_FILE_BUFFERS) this.freeFileBuffers.push(buffer);
  }

  /** Runs `use` with the staging buffer, one caller at a time (the disk takes the writes in turn anyway). */
  async withStaging<T>(use: (staging: Buffer) => Promise<T>): Promise<T> {
    const previous = this.stagingBusy;
    let release!: () => void;
    this.stagingBusy = new Promise((resolve) => (release = resolve));
    await previous;
    try {
      return await use(this.staging!);
    } finally {
      release();
    }
  }
}

const memory = new AlignedMemory();

interface Edge {
  block: Buffer;
  /** Byte ranges of the block that hold data, relative to the block. */
  ranges: Array<[number, number]>;
  covered: number;
}

const folderTakesDirect = new Map<string, Promise<boolean>>();
let directAllowed = true;

/** Turns direct I/O off (or on again) for the whole process; every command applies the AIM_DIRECT_IO setting here. */
export function allowDirectIo(allowed: boolean): void {
  directAllowed = allowed;
}

/** Whether direct I/O is worth trying in `folder` (unless turned off); asked once per folder. */
function directWanted(folder: string): Promise<boolean> {
  if (!directAllowed || process.platform !== 'linux' || !constants.O_DIRECT) return Promise.resolve(false);
  let answer = folderTakesDirect.get(folder);
  if (!answer) {
    answer = statfs(folder).then((info) => DIRECT_FILE_SYSTEMS.has(info.type), () => false);
    folderTakesDirect.set(folder, answer);
  }
  return answer;
}

/**
 * Writes all of `data` into the new, empty file at `path` (already created and open as `handle`, which must still be
 * synced) around the page cache; false, with nothing written, where direct writes are not wanted or refused.
 */
export async function writeNewFileDirect(path: string, handle: FileHandle, data: Uint8Array): Promise<boolean> {
  if (data.length < MIN_DIRECT_WHOLE_FILE || !(await directWanted(dirname(path)))) return false;
  const direct = await open(path, constants.O_WRONLY | constants.O_DIRECT).catch(() => undefined);
  if (!direct) return false;
  const padded = alignUp(data.length);
  // Data in aligned memory with room for the padding goes as it is (what lies past its end is cut off after).
  const inPlace = alignedMemories.has(data.buffer) && data.byteOffset % BLOCK === 0 && data.byteOffset + padded <= data.buffer.byteLength;
  let buffer: Buffer | undefined;
  try {
    if (!inPlace) {
      buffer = memory.takeFileBuffer(data.length);
      buffer.set(data);
      buffer.fill(0, data.length, padded);
    }
    await writeAligned(direct, buffer?.subarray(0, padded) ?? Buffer.from(data.buffer, data.byteOffset, padded), 0);
    if (padded !== data.length) await handle.truncate(data.length);
    return true;
  } catch (error) {
    // Refused after all: the caller writes the usual way over whatever landed.
    if (!refused(error)) throw error;
    await handle.truncate(0);
    return false;
  } finally {
    if (buffer) memory.giveFileBuffer(buffer);
    await direct.close();
  }
}

/**
 * Reads up to `target.length` bytes of the file at `path` from `offset` around the page cache, into `target`; the
 * count read (short at the end of the file), or undefined where direct reads are not wanted (then read the usual
 * way). On the test VM a cold 2 GiB file read in 2.8 s with 0.2 s of system time direct, and 5.9 s with 5.7 s
 * buffered (dd): the cache pages cost a fault in the host each. Reads of the repository are cold anyway, since
 * push writes it directly.
 */
export async function readDirect(path: string, target: Uint8Array, offset: number): Promise<number | undefined> {
  if (target.length < MIN_DIRECT_WHOLE_FILE || !(await directWanted(dirname(path)))) return undefined;
  let direct: FileHandle;
  try {
    direct = await open(path, constants.O_RDONLY | constants.O_DIRECT);
  } catch (error) {
    if (refused(error)) return undefined;
    throw error;
  }
  const start = alignDown(offset);
  const end = alignUp(offset + target.length);
  let buffer: Buffer | undefined;
  try {
    buffer = memory.takeFileBuffer(end - start);
    let got = 0;
    while (got < end - start) {
      const { bytesRead } = await direct.read(buffer, got, end - start - got, start + got);
      got += bytesRead;
      if (bytesRead === 0 || bytesRead % BLOCK !== 0) break; // the end of the file
    }
    const count = Math.max(0, Math.min(got - (offset - start), target.length));
    target.set(buffer.subarray(offset - start, offset - start + count));
    return count;
  } catch (error) {
    if (refused(error)) return undefined;
    throw error;
  } finally {
    if (buffer) memory.giveFileBuffer(buffer);
    await direct.close();
  }
}

/**
 * Up to `target.length` bytes of the file at `path` from `offset`: around the page cache where the file system allows
 * it (readDirect), the usual way elsewhere. The count read, short only at the end of the file.
 */
export async function readFileRange(path: string, target: Uint8Array, offset: number): Promise<number> {
  const direct = await readDirect(path, target, offset);
  if (direct !== undefined) return direct;
  const handle = await open(path, 'r');
  try {
    let filled = 0;
    while (filled < target.length) {
      const { bytesRead } = await handle.read(target, filled, target.length - filled, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled;
  } finally {
    await handle.close();
  }
}

/**
 * Positional writes of disjoint ranges that together cover [start, size) of one file, in any order. `handle` is the
 * file opened the usual way (reads, truncate and sync go through it); writes go through a second, O_DIRECT handle
 * when the file system takes one. The last block is written padded with zeros: truncate to the size afterwards.
 */
export class DirectWriter {
  private readonly edges = new Map<number, Edge>();

  private constructor(
    private readonly handle: FileHandle,
    private direct: FileHandle | undefined,
    private readonly size: number,
  ) {}

  /**
   * `start`: the first byte this writer will write. The bytes of its block before it are already in the file (a
   * resumed pull) and are read back, so that the block can be written whole.
   */
  static async open(path: string, handle: FileHandle, size: number, start: number): Promise<DirectWriter> {
    const wanted = size >= MIN_DIRECT_FILE && (await directWanted(dirname(path))) && memory.available();
    const direct = wanted ? await open(path, constants.O_WRONLY | constants.O_DIRECT).catch(() => undefined) : undefined;
    const writer = new DirectWriter(handle, direct, size);
    if (direct && start % BLOCK !== 0 && start < size) {
      const before = Buffer.alloc(start % BLOCK);
      const { bytesRead } = await handle.read(before, 0, before.length, alignDown(start));
      try {
        if (bytesRead !== before.length) await writer.goBuffered();
        else writer.addToEdge(alignDown(start), before, 0);
      } catch (error) {
        await writer.fallBack(error);
      }
    }
    return writer;
  }

  get isDirect(): boolean {
    return this.direct !== undefined;
  }

  /** Writes all of `bytes` at `position`. */
  async write(bytes: Uint8Array, position: number): Promise<void> {
    if (!this.direct) return writeFully(this.handle, bytes, position);
    const end = position + bytes.length;
    // [position, wholeStart): the head edge; [wholeStart, wholeEnd): whole blocks; [wholeEnd, end): the tail edge.
    const wholeStart = position % BLOCK === 0 ? position : Math.min(end, alignDown(position) + BLOCK);
    const wholeEnd = Math.max(wholeStart, alignDown(end));
    const complete: number[] = [];
    const edge = (from: number, to: number) => {
      const done = this.addToEdge(alignDown(from), bytes.subarray(from - position, to - position), from % BLOCK);
      if (done !== undefined) complete.push(done);
    };
    try {
      if (wholeStart > position) edge(position, wholeStart);
      if (end > wholeEnd) edge(wholeEnd, end);
    } catch (error) {
      // No memory for an edge block: everything goes the usual way from here, this write whole.
      await this.fallBack(error);
      return writeFully(this.handle, bytes, position);
    }
    if (wholeEnd > wholeStart) await this.writeWhole(bytes.subarray(wholeStart - position, wholeEnd - position), wholeStart);
    for (const blockStart of complete) await this.flushEdge(blockStart);
  }

  /** Fails if a block was left partly written (the writes did not cover the file), then closes the direct handle. */
  async finish(): Promise<void> {
    const left = this.edges.size;
    if (left > 0) throw new Error(`direct writer: ${left} partial blocks were never completed`);
    await this.close();
  }

  /**
   * Closes the direct handle. Partial blocks still waiting (a pull that failed or was stopped) are written the usual
   * way first, so that the chunks that arrived are on disk for the resumed pull, which checks them again.
   */
  async close(): Promise<void> {
    await this.goBuffered();
  }

  /** Leaves the direct path: closes its handle and writes the waiting partial blocks the usual way. */
  private async goBuffered(): Promise<void> {
    const waiting = [...this.edges];
    this.edges.clear();
    const direct = this.direct;
    this.direct = undefined;
    await direct?.close();
    for (const [blockStart, edge] of waiting) {
      await writeEdge(this.handle, edge, blockStart).finally(() => memory.giveBlock(edge.block));
    }
  }

  /** Copies `bytes` into the edge block at `blockStart` from `at`; returns blockStart once the block is complete. */
  private addToEdge(blockStart: number, bytes: Uint8Array, at: number): number | undefined {
    let edge = this.edges.get(blockStart);
    if (!edge) {
      edge = { block: memory.block(), ranges: [], covered: 0 };
      this.edges.set(blockStart, edge);
    }
    edge.block.set(bytes, at);
    edge.ranges.push([at, at + bytes.length]);
    edge.covered += bytes.length;
    return edge.covered >= Math.min(BLOCK, this.size - blockStart) ? blockStart : undefined;
  }

  private async flushEdge(blockStart: number): Promise<void> {
    const edge = this.edges.get(blockStart);
    if (!edge) return; // written already by a fall-back
    this.edges.delete(blockStart);
    try {
      if (this.direct) await this.directWrite(edge.block, blockStart).catch((error: unknown) => this.fallBack(error, edge, blockStart));
      else await writeEdge(this.handle, edge, blockStart);
    } finally {
      memory.giveBlock(edge.block);
    }
  }

  private async writeWhole(bytes: Uint8Array, position: number): Promise<void> {
    // Whole blocks that sit on a block boundary in aligned memory (viewForPosition) go as they are.
    if (this.direct && alignedMemories.has(bytes.buffer) && bytes.byteOffset % BLOCK === 0) {
      if (!(await this.tryDirectWrite(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), position))) await writeFully(this.handle, bytes, position);
      return;
    }
    await memory.withStaging(async (staging) => {
      let at = 0;
      while (at < bytes.length && this.direct) {
        const piece = bytes.subarray(at, at + staging.length);
        staging.set(piece);
        if (await this.tryDirectWrite(staging.subarray(0, piece.length), position + at)) at += piece.length;
      }
      if (at < bytes.length) await writeFully(this.handle, bytes.subarray(at), position + at);
    });
  }

  private directWrite(bytes: Buffer, position: number): Promise<void> {
    return writeAligned(this.direct!, bytes, position);
  }

  /** A direct write; false when the file system refused it (the writer has gone the usual way: write them so). */
  private tryDirectWrite(bytes: Buffer, position: number): Promise<boolean> {
    return this.directWrite(bytes, position).then(
      () => true,
      (error: unknown) => this.fallBack(error).then(() => false),
    );
  }

  /**
   * A file system that took the O_DIRECT open but refuses the writes (EINVAL: other alignment rules) gets buffered
   * writes from here on, the waiting edges and `edge` (being written) included; other errors are real and thrown.
   */
  private async fallBack(error: unknown, edge?: Edge, blockStart?: number): Promise<void> {
    if (!refused(error)) throw error;
    await this.goBuffered();
    if (edge && blockStart !== undefined) await writeEdge(this.handle, edge, blockStart);
  }
}

/** All of `bytes` (aligned, whole blocks) at `position` through an O_DIRECT handle. */
async function writeAligned(direct: FileHandle, bytes: Buffer, position: number): Promise<void> {
  for (let written = 0; written < bytes.length; ) {
    const { bytesWritten } = await direct.write(bytes, written, bytes.length - written, position + written);
    // A short direct write cannot go on from an unaligned point: treated as refused, the usual path takes over.
    if (bytesWritten === 0 || bytesWritten % BLOCK !== 0) throw Object.assign(new Error('short direct write'), { code: 'EINVAL' });
    written += bytesWritten;
  }
}

async function writeEdge(handle: FileHandle, edge: Edge, blockStart: number): Promise<void> {
  for (const [from, to] of edge.ranges) await writeFully(handle, edge.block.subarray(from, to), blockStart + from);
}

/** Writes all of `bytes` at `position`: a write may take fewer bytes than offered, and the rest must not be lost. */
async function writeFully(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let written = 0; written < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, position + written);
    if (bytesWritten === 0) {
      throw new StorageError(`could not write at byte ${position + written} of a partial file`, { hint: 'check free space in the destination, then pull again' });
    }
    written += bytesWritten;
  }
}
