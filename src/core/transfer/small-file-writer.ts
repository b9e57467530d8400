import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { ResourceLimits } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { alignUp, BLOCK, sharedLandingMemory } from '../../lib/direct-memory.js';
import { SlotPool } from '../../lib/slot-pool.js';
import { StorageError } from '../../lib/errors.js';
import { log } from '../../lib/log.js';
import { WorkerClient, WorkerStoppedError } from '../../lib/worker-rpc.js';
import { testWriterFailAfter, testPullThreadHeapMiB } from '../../settings/test-hooks.js';
import { nativeBlake3 } from '../hashing/blake3-native.js';
import { MAX_RUN_BYTES } from './chunk-buffers.js';
import { errorOf, joinMoves, runSmallFileJob, type ChunkToWrite, type JobReply, type SmallFileJob } from './small-file-jobs.js';
import type { SmallFileSetup } from './small-file-worker.js';

// Writes a pull's small files on worker threads: each pack read lands in a slot of one shared memory, and a
// worker checks every chunk there and writes the partials made of it, then later renames them into place
// (small-file-jobs.ts); the main thread only plans, reads and keeps the books. Before, the main thread made the
// creates, writes, closes, renames and stats itself, a few system calls a file, and was the pull's bottleneck
// (docs/benchmarks.md, "Ten thousand tiny files pulled on a worker thread" has the figures that keep it). A read of
// many files is split between two workers, which write their halves side by side: creating a file is mostly the
// kernel's work, and one thread making them all left the other core idle (docs/benchmarks.md, "Session 22"). Where a
// worker cannot start (tests running the TypeScript sources, no room for the memory, a thread that dies before it is
// ready) its jobs run inline. A worker that dies once started may have left any job half done (a partial half
// written, some moves made): the pull stops with a plain error, and the next one checks what is on disk, as after a
// kill.

/** Pack reads in flight: a read waits for a free slot. */
const SLOTS = 3;
/** Worker threads at most (fewer on a machine of one core). */
const WRITERS = 2;
/** Files of a pull below which one worker writes them all: a second thread's start costs more than it saves. */
const MANY_FILES = 256;
/** Chunks of a read, or moves, below which they are not split between the workers. */
const SPLIT_AT = 64;
/** A read of up to MAX_RUN_BYTES at any offset within its first block, with the rest of its last block. */
const SLOT_BYTES = alignUp(MAX_RUN_BYTES) + 2 * BLOCK;
const workerUrl = new URL('./small-file-worker.js', import.meta.url);

/** A slot of the writer's memory holding one read. */
export interface WriterSlot {
  /**
   * Where `size` bytes read from file offset `offset` land: placed as they sit in their block, so that a direct read
   * of a folder repository's pack fills the slot in place.
   */
  landing(offset: number, size: number): Buffer;
  /** Checks the chunks (`start`, `end` relative to the landing) and writes their partials; the worker's reply. */
  write(chunks: ChunkToWrite[]): Promise<JobReply>;
  release(): void;
}

export class SmallFileWriter {
  private readonly slots = new SlotPool(SLOTS, SLOT_BYTES);
  private readonly view: Buffer;
  /** True when the writer checks each chunk against its digest (native BLAKE3 here, and so in the worker). */
  readonly checksChunks = nativeBlake3() !== undefined;

  private workers: Array<WorkerClient<SmallFileJob, JobReply>> = [];
  /** Every worker started, dead ones too: close stops them all. */
  private readonly started: Array<WorkerClient<SmallFileJob, JobReply>> = [];

  /** `memory` shared with the worker when it can start one (then `setup` is what it gets), else used inline. */
  private constructor(
    memory: ArrayBufferLike,
    private setup?: SmallFileSetup,
  ) {
    this.view = Buffer.from(memory);
  }

  static create(): SmallFileWriter {
    const memory = sharedLandingMemory(SLOTS * SLOT_BYTES);
    if (!memory) return new SmallFileWriter(new ArrayBuffer(SLOTS * SLOT_BYTES)); // no room for a mapping of its own
    const compiled = workerUrl.protocol === 'file:' && existsSync(fileURLToPath(workerUrl));
    const failAfter = testWriterFailAfter();
    return new SmallFileWriter(memory.buffer, compiled ? { memory, ...(failAfter ? { failAfter } : {}) } : undefined);
  }

  /**
   * Starts the workers now, so that they are ready when the first read is (a pull of small files calls it early):
   * two when the pull writes MANY_FILES small files or more (`files`), else one.
   */
  warm(files = 1): void {
    if (!this.setup || this.started.length > 0) return;
    const count = files >= MANY_FILES ? Math.min(WRITERS, availableParallelism()) : 1;
    for (let index = 0; index < count; index++) this.started.push(new WorkerClient<SmallFileJob, JobReply>(workerUrl, this.setup, pullThreadLimits()));
    this.workers = [...this.started];
  }

  /** Whether `size` bytes fit a slot; a bigger chunk (a repository whose chunks may pass MAX_RUN_BYTES) goes to writeHere. */
  static fits(size: number): boolean {
    return size <= MAX_RUN_BYTES;
  }

  async take(): Promise<WriterSlot> {
    const { base, release } = await this.slots.take();
    let start = base;
    return {
      landing: (offset, size) => {
        if (size > MAX_RUN_BYTES) throw new Error(`a read of ${size} bytes does not fit a slot of ${SLOT_BYTES}`);
        start = base + (offset % BLOCK);
        return this.view.subarray(start, start + size);
      },
      write: (chunks) => this.write(chunks.map((chunk) => ({ start: start + chunk.start, end: start + chunk.end, hex: chunk.hex, files: chunk.files }))),
      release,
    };
  }

  /**
   * Moves each partial to its target (free, or the move fails with EEXIST), in order; each target's size, mtimeMs,
   * ctimeMs and inode after its move. Throws the first move's failure, as the system call would (the moves before it
   * stay made).
   */
  async install(moves: Array<[string, string]>): Promise<Float64Array> {
    if (moves.length === 0) return new Float64Array(0);
    const reply = await this.split(moves, (part) => ({ op: 'install', moves: joinMoves(part) }));
    return reply.stats!;
  }

  async close(): Promise<void> {
    await Promise.all(this.started.map((worker) => worker.terminate()));
  }

  /**
   * Checks and writes `chunks` of `bytes` (memory of this thread, too big for a slot) here, with the calls the worker
   * makes: for the rare chunk larger than a slot, which holds up the main thread for one file.
   */
  writeHere(bytes: Uint8Array, chunks: ChunkToWrite[]): JobReply {
    return settled(runSmallFileJob(bytes, { op: 'write', chunks }));
  }

  /** Checks and writes `chunks` (in the shared memory). */
  private write(chunks: ChunkToWrite[]): Promise<JobReply> {
    return this.split(chunks, (part) => ({ op: 'write', chunks: part }));
  }

  /**
   * Runs the job `jobOf` makes of `items`: split between the workers when there are enough of them, each half a job
   * of its own (a write's over the same slot). Resolves once every part has settled (a slot is not released under a
   * worker still reading it), with the parts' replies joined as one job's.
   */
  private async split<T>(items: T[], jobOf: (part: T[]) => SmallFileJob): Promise<JobReply> {
    this.warm();
    const parts = this.workers.length > 1 && items.length >= SPLIT_AT ? halves(items) : [items];
    const replies = await Promise.allSettled(parts.map((part, index) => this.runOn(index, jobOf(part))));
    return settled(joinReplies(replies, parts.map((part) => part.length)));
  }

  /** Runs `job` on the `index`th worker still serving (the first when fewer), or inline where none is; the raw reply. */
  private async runOn(index: number, job: SmallFileJob): Promise<JobReply> {
    const worker = this.workers[index] ?? this.workers[0];
    if (!worker) return runSmallFileJob(this.view, job);
    try {
      return await worker.call(job);
    } catch (error) {
      if (!(error instanceof WorkerStoppedError)) throw error;
      if (error.started) throw pullThreadStopped('file writer', error);
      this.drop(worker, error);
      return this.runOn(index, job);
    }
  }

  /** `worker` died before it was ready, having run no job: its jobs go to the others, or run on this thread. */
  private drop(worker: WorkerClient<SmallFileJob, JobReply>, why: WorkerStoppedError): void {
    if (!this.workers.includes(worker)) return;
    this.workers = this.workers.filter((each) => each !== worker);
    if (this.workers.length === 0) log.warn('the small-file writer thread did not start: writing on the main thread', { reason: why.message });
  }
}

/** The heap a pull's worker thread may use: no limit but the test suite's (AIM_TEST_PULL_THREAD_HEAP_MIB). */
export function pullThreadLimits(): ResourceLimits | undefined {
  const heap = testPullThreadHeapMiB();
  return heap === undefined ? undefined : { maxOldGenerationSizeMb: heap, maxYoungGenerationSizeMb: 1 };
}

/** The plain error for a pull whose worker thread (its `role`: file writer, chunk checker) died: the pull resumes. */
export function pullThreadStopped(role: string, error: WorkerStoppedError): StorageError {
  return new StorageError(`the pull's ${role} stopped before its work was done (${error.message})`, {
    hint: 'run the same pull again: it resumes where it stopped, keeping every file already written and checked',
    cause: error,
  });
}

/** `items` cut in two, each half a job for one worker (the files of a read, or of a folder, lie together, in order). */
function halves<T>(items: T[]): T[][] {
  const middle = items.length >> 1;
  return [items.slice(0, middle), items.slice(middle)];
}

/**
 * The replies to the parts of one job (of `sizes` items each), as one reply: its items done are the parts' up to the
 * first part that stopped short, with that part's failure (what a later part wrote or moved beyond that is found by
 * the next pull, as after a kill); a part whose call failed throws its error.
 */
function joinReplies(replies: Array<PromiseSettledResult<JobReply>>, sizes: number[]): JobReply {
  let done = 0;
  const written: Float64Array[] = [];
  const stats: Float64Array[] = [];
  const joined = (reply: JobReply): JobReply => ({
    ...reply,
    done,
    ...(written.length > 0 ? { written: concatenated(written) } : {}),
    ...(stats.length > 0 ? { stats: concatenated(stats) } : {}),
  });
  for (let index = 0; index < replies.length; index++) {
    const result = replies[index]!;
    if (result.status === 'rejected') throw result.reason;
    const reply = result.value;
    done += reply.done;
    if (reply.written) written.push(reply.written);
    if (reply.stats) stats.push(reply.stats);
    if (reply.done < sizes[index]!) return joined(reply);
  }
  return joined({ done });
}

function concatenated(arrays: Float64Array[]): Float64Array {
  if (arrays.length === 1) return arrays[0]!;
  const all = new Float64Array(arrays.reduce((sum, array) => sum + array.length, 0));
  let at = 0;
  for (const array of arrays) {
    all.set(array, at);
    at += array.length;
  }
  return all;
}

/** The reply, or the failure it carries thrown as the system call's error. */
function settled(reply: JobReply): JobReply {
  if (reply.failure) throw errorOf(reply.failure);
  return reply;
}
