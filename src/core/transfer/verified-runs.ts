import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { alignUp, BLOCK, sharedLandingMemory } from '../../lib/direct-memory.js';
import { SlotPool } from '../../lib/slot-pool.js';
import { WorkerClient, WorkerStoppedError } from '../../lib/worker-rpc.js';
import { digestFromHex, type Digest } from '../format/digest.js';
import { nativeBlake3 } from '../hashing/blake3-native.js';
import type { RunReply, RunRequest, RunSetup } from '../hashing/run-worker.js';
import { MAX_RUN_BYTES } from './chunk-buffers.js';
import { testCheckerFailAfter } from '../../settings/test-hooks.js';
import { pullThreadLimits, pullThreadStopped } from './small-file-writer.js';

// Runs of a big file's chunks read from a pack on local disk, checked on a worker thread (hashing/run-worker.ts)
// instead of the main thread. Each run gets a slot of one shared memory; the pack's blocks around the run are read
// straight into it (readDirect lands them in place, no copy), so the run sits where its pack offset sits in a block.
// The worker hashes each chunk there, then moves the run to where its file offset sits in a block, so the direct
// write of the partial takes its whole blocks in place. Before, the main thread copied each run out of an aligned
// read buffer and hashed it: 60 % of its CPU time in a 1 GiB pull. Kept because it wins (docs/benchmarks.md, "Pull:
// runs checked on a worker"): the main thread's CPU for 1 GiB 1.17 s -> 0.50 s, wall 0.89x and 0.95x (medians of
// alternating series at load 12-15), peak RSS 200 -> 145 MiB. Only for a folder repository: a run read from S3
// arrives through JavaScript copies, which into shared memory go a byte at a time.

/** Runs in flight at most: a run waits for a free slot (pull-file.ts keeps about five 8 MiB runs in flight). */
const SLOTS = 6;
/** A run of up to MAX_RUN_BYTES, at any offset within its first block, with the rest of its last block. */
const SLOT_BYTES = alignUp(MAX_RUN_BYTES) + 2 * BLOCK;
const workerUrl = new URL('../hashing/run-worker.js', import.meta.url);

/** A slot holding one run: where it lands when read, and where it is once checked. */
export interface RunSlot {
  /** `size` bytes at `offset`'s place in a block: the target of the pack read. */
  landing(offset: number, size: number): Buffer;
  /**
   * Hashes each chunk (their sizes, in order) where the read landed, then moves the run to `position`'s place in a
   * block; the digests, and the run's bytes at its new place.
   */
  check(offset: number, sizes: number[], position: number): Promise<{ digests: Digest[]; bytes: Buffer }>;
  release(): void;
}

export class VerifiedRuns {
  private readonly slots = new SlotPool(SLOTS, SLOT_BYTES);
  private readonly view: Buffer;

  private constructor(
    memory: WebAssembly.Memory,
    private readonly worker: WorkerClient<RunRequest, RunReply>,
  ) {
    this.view = Buffer.from(memory.buffer);
  }

  /**
   * A checker when native BLAKE3 and the compiled worker exist (not when tests run the TypeScript sources) and the
   * memory can be mapped (not under a tight ulimit -v); undefined otherwise, and runs are checked on the main thread.
   */
  static create(): VerifiedRuns | undefined {
    if (!nativeBlake3() || workerUrl.protocol !== 'file:' || !existsSync(fileURLToPath(workerUrl))) return undefined;
    const memory = sharedLandingMemory(SLOTS * SLOT_BYTES);
    if (!memory) return undefined; // no room for it in the address space
    const failAfter = testCheckerFailAfter();
    const setup: RunSetup = failAfter === undefined ? { memory } : { memory, failAfter };
    return new VerifiedRuns(memory, new WorkerClient<RunRequest, RunReply>(workerUrl, setup, pullThreadLimits()));
  }

  async take(): Promise<RunSlot> {
    const { base, release } = await this.slots.take();
    return {
      landing: (offset, size) => {
        // A run is at most MAX_RUN_BYTES (nextUnit); a longer one would spill into the next slot.
        if (size > MAX_RUN_BYTES) throw new Error(`a run of ${size} bytes does not fit a slot of ${SLOT_BYTES}`);
        return this.view.subarray(base + (offset % BLOCK), base + (offset % BLOCK) + size);
      },
      check: (offset, sizes, position) => this.check(base, offset, sizes, position),
      release,
    };
  }

  private async check(base: number, offset: number, sizes: number[], position: number): Promise<{ digests: Digest[]; bytes: Buffer }> {
    const from = base + (offset % BLOCK);
    const to = base + (position % BLOCK);
    const length = sizes.reduce((sum, size) => sum + size, 0);
    const ranges: Array<[number, number]> = [];
    let at = from;
    for (const size of sizes) {
      ranges.push([at, at + size]);
      at += size;
    }
    const request = { ranges, move: { to, from, length } };
    const { digests } = await this.worker.call(request).catch((error: unknown) => {
      if (!(error instanceof WorkerStoppedError)) throw error;
      // One that died once started may have moved part of a run: nothing of it is trusted, and the pull stops plainly.
      if (error.started) throw pullThreadStopped('chunk checker', error);
      return this.checkHere(request);
    });
    return { digests: digests.map(digestFromHex), bytes: this.view.subarray(to, to + length) };
  }

  /** What the worker does, on this thread: for a worker that died before it was ready, having touched no run. */
  private checkHere({ ranges, move: { to, from, length } }: RunRequest): RunReply {
    const native = nativeBlake3()!;
    const digests = ranges.map(([start, end]) => native.hex(this.view.subarray(start, end)));
    this.view.copyWithin(to, from, from + length);
    return { digests };
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
