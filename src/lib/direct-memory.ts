// Page-aligned memory for direct I/O (see direct-io.ts): O_DIRECT wants the buffer, the file offset and the length
// aligned to the device's block, so buffers that go to the disk directly come from here, shared by the process.

/** The block size direct I/O is aligned to (512 or 4096 bytes on the devices aim meets: 4096 serves both). */
export const BLOCK = 4096;
const STAGING_BYTES = 8 * 1024 * 1024;

export const alignDown = (n: number): number => n - (n % BLOCK);
export const alignUp = (n: number): number => alignDown(n + BLOCK - 1);

/** The memories behind aligned buffers: a write of data in one of them needs no aligned copy. */
export const alignedMemories = new WeakSet<ArrayBufferLike>();

/**
 * Aligned memories whose owner lets a direct read of a range fill the whole blocks around it (the bytes before the
 * range in its first block and after it in its last): a read whose target sits where its file offset sits in a block
 * then lands in place, with no copy (direct-io.ts, readDirect).
 */
export const widenableMemories = new WeakSet<ArrayBufferLike>();

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
 * Page-aligned memory of at least `bytes`, shared with worker threads, that direct reads of whole blocks around a
 * range may fill in place (aligned and widenable); undefined where no more can be mapped (ulimit -v).
 */
export function sharedLandingMemory(bytes: number): WebAssembly.Memory | undefined {
  const pages = Math.ceil(bytes / 65536);
  let memory: WebAssembly.Memory;
  try {
    memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  } catch {
    return undefined;
  }
  alignedMemories.add(memory.buffer);
  widenableMemories.add(memory.buffer);
  return memory;
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
 * A buffer of its owner's alone, that direct reads may fill in place: aligned memory (bufferForDirectWrite) whose
 * bytes around a view read into may be overwritten too (widenable). Plain memory where no more can be mapped.
 */
export function bufferForDirectReads(size: number): Buffer {
  const buffer = bufferForDirectWrite(size);
  if (alignedMemories.has(buffer.buffer)) widenableMemories.add(buffer.buffer);
  return buffer;
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
export function refused(error: unknown): boolean {
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

export const memory = new AlignedMemory();
