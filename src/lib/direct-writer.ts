import { constants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { directWanted, writeAligned } from './direct-io.js';
import { alignDown, alignedMemories, BLOCK, memory, refused } from './direct-memory.js';
import { StorageError } from './errors.js';
import { openRegular, readFully, sameFile } from './safe-fs.js';

// A pulled file's writes around the page cache (see direct-io.ts): whole blocks go through the aligned staging
// buffer, or in place from aligned memory, and the partial blocks at either end of a write ("edges") wait in block
// buffers until the neighbouring writes complete them.

/** Below this, a pulled file is written the usual way: the saving is small and most of its blocks would be edges. */
const MIN_DIRECT_FILE = 4 * 1024 * 1024;

interface Edge {
  block: Buffer;
  /** Byte ranges of the block that hold data, relative to the block. */
  ranges: Array<[number, number]>;
  covered: number;
}

/**
 * Positional writes of disjoint ranges that together cover [start, size) of one file, in any order. `handle` is the
 * file opened the usual way (reads, truncate and sync go through it); writes go through a second, O_DIRECT handle
 * when the file system takes one. The last block is written padded with zeros: truncate to the size afterwards.
 */
export class DirectWriter {
  private readonly edges = new Map<number, Edge>();
  /** Block starts of edges taken from `edges` (by flushEdge or goBuffered, never both) whose write is under way. */
  private readonly writing = new Set<number>();

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
    const direct = wanted ? await openSame(path, handle, constants.O_WRONLY | constants.O_DIRECT) : undefined;
    const writer = new DirectWriter(handle, direct, size);
    if (direct && start % BLOCK !== 0 && start < size) {
      const before = Buffer.alloc(start % BLOCK);
      const bytesRead = await readFully(handle, before, alignDown(start));
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

  /**
   * Every byte written before this offset is in the file (the page cache, at least); from it on, some may still wait
   * in a partial block in memory, lost if the process ends now. Infinity when none waits.
   */
  get inFileBefore(): number {
    let first = Infinity;
    for (const blockStart of this.edges.keys()) first = Math.min(first, blockStart);
    for (const blockStart of this.writing) first = Math.min(first, blockStart);
    return first;
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
    for (const [blockStart] of waiting) this.writing.add(blockStart);
    const direct = this.direct;
    this.direct = undefined;
    await direct?.close();
    for (const [blockStart, edge] of waiting) {
      await writeEdge(this.handle, edge, blockStart).finally(() => {
        this.writing.delete(blockStart);
        memory.giveBlock(edge.block);
      });
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
    this.writing.add(blockStart);
    try {
      if (this.direct) await this.directWrite(edge.block, blockStart).catch((error: unknown) => this.fallBack(error, edge, blockStart));
      else await writeEdge(this.handle, edge, blockStart);
    } finally {
      this.writing.delete(blockStart);
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

/**
 * `path` opened again with `flags`, when it is still the file open as `handle`; undefined when it cannot be, or when
 * something else has taken the name since (a hard link to a file elsewhere would get the bytes): then the writes go
 * through `handle`.
 */
async function openSame(path: string, handle: FileHandle, flags: number): Promise<FileHandle | undefined> {
  const again = await openRegular(path, flags).catch(() => undefined);
  if (!again || (await sameFile(again, handle).catch(() => false))) return again;
  await again.close();
  return undefined;
}
