import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SlotPool } from '../../lib/slot-pool.js';
import { log } from '../../lib/log.js';
import { WorkerClient } from '../../lib/worker-rpc.js';
import { cdcMode } from '../../settings/runtime.js';
import type { Chunker } from '../chunking/chunker.js';
import { digestFromHex, type Digest } from '../format/digest.js';
import { nativeBlake3 } from '../hashing/blake3-native.js';
import { TINY_FILE, type TinyFileRead, type TinyReadJob, type TinyReadReply } from './tiny-file-read.js';
import type { TinyReaderSetup } from './tiny-file-worker.js';
import type { SourceFile } from './walk.js';

// Reads a push's many tiny files on a worker thread, a batch at a time: the worker opens, reads, cuts and hashes the
// files of a batch into a slot of one shared memory, and the main thread copies the batch out once and keeps the
// books. Read on the main thread, each file cost it an open, a stat, a read, a close and a BLAKE3 call, and 10,000
// tiny files kept it busy while the other core idled. One thread, not two: the main thread, which stores what it
// reads, stays the slower of the two, and a second reader only took a core from it (docs/benchmarks.md, "Session 23"). Files this cannot read as
// the walk saw them, and every file when no worker can run, are read the usual way, which says why it cannot.

/** Files of a push below which the main thread reads them: a thread's start costs more than it saves. */
export const MANY_TINY_FILES = 256;
/** Files a worker reads in one job. */
export const BATCH_FILES = 32;
/** Worker threads. */
const READERS = 1;
/** Batches read at once: two a worker, so that each has its next one queued while the main thread takes the last. */
const SLOTS = 2 * READERS;
/** A batch's files at their largest, each with the byte that tells one grown since the walk. */
const SLOT_BYTES = BATCH_FILES * (TINY_FILE + 1);
const workerUrl = new URL('./tiny-file-worker.js', import.meta.url);

/** A tiny file read ahead, cut and hashed. */
export interface TinyRead {
  /** The file's bytes: a view of its batch's copy. */
  bytes: Buffer;
  chunks: Array<{ size: number; digest: Digest }>;
  fileDigest: Digest;
}

export class TinyFileReader {
  private readonly slots = new SlotPool(SLOTS, SLOT_BYTES);
  private readonly view: Buffer;
  /** Started at the first batch: a re-push whose files the stat cache vouches for reads none. */
  private workers?: Array<WorkerClient<TinyReadJob, TinyReadReply>>;

  private constructor(private readonly setup: TinyReaderSetup) {
    this.view = Buffer.from(setup.memory);
  }

  /**
   * Worker threads for a push of `tinyFiles` tiny files, when there are many, the compiled worker exists (not when
   * tests run the TypeScript sources), AIM_CDC is not inline and BLAKE3 is native; else undefined.
   */
  static create(chunker: Chunker, tinyFiles: number): TinyFileReader | undefined {
    if (tinyFiles < MANY_TINY_FILES || cdcMode() !== 'workers' || !nativeBlake3()) return undefined;
    if (workerUrl.protocol !== 'file:' || !existsSync(fileURLToPath(workerUrl))) return undefined;
    const setup: TinyReaderSetup = { memory: new SharedArrayBuffer(SLOTS * SLOT_BYTES), params: chunker.params };
    return new TinyFileReader(setup);
  }

  /** Whether `file` is one this reads (the caller batches BATCH_FILES of them at most). */
  static reads(file: SourceFile): boolean {
    return file.size <= TINY_FILE;
  }

  /** Each file's bytes, chunks and digests, in order; undefined for one to read the usual way. */
  async read(files: SourceFile[]): Promise<Array<TinyRead | undefined>> {
    if (files.length > BATCH_FILES) throw new Error(`a batch of ${files.length} files, more than ${BATCH_FILES}`);
    const slot = await this.slots.take();
    try {
      const reply = await this.run({ at: slot.base, room: SLOT_BYTES, files: files.map((file) => [file.absolute, file.size]) });
      if (!reply) return files.map(() => undefined);
      // One copy of the batch, out of the shared memory: the slot serves the next batch at once, and the files'
      // bytes are plain memory, which the pack writer copies at full speed.
      const batch = Buffer.allocUnsafeSlow(reply.used);
      batch.set(this.view.subarray(slot.base, slot.base + reply.used));
      return reply.files.map((read) => (read ? tinyRead(batch, read) : undefined));
    } finally {
      slot.release();
    }
  }

  async close(): Promise<void> {
    const workers = this.workers ?? [];
    // A batch still on its way once the push is done with this (one that failed) starts no thread: it reads nothing.
    this.workers = [];
    await Promise.all(workers.map((worker) => worker.terminate()));
  }

  private started(): Array<WorkerClient<TinyReadJob, TinyReadReply>> {
    if (!this.workers) {
      log.debug('tiny files read on worker threads', { threads: READERS });
      this.workers = Array.from({ length: READERS }, () => new WorkerClient<TinyReadJob, TinyReadReply>(workerUrl, this.setup));
    }
    return this.workers;
  }

  /** The job run on the least busy worker; undefined when none can run it (its files are then read the usual way). */
  private async run(job: TinyReadJob): Promise<TinyReadReply | undefined> {
    const worker = this.started().reduce<WorkerClient<TinyReadJob, TinyReadReply> | undefined>((best, each) => (best && best.inFlight <= each.inFlight ? best : each), undefined);
    if (!worker) return undefined;
    try {
      return await worker.call(job);
    } catch (error) {
      // A thread that died, or a job it could not run: its files go the usual way, and the thread is used no more.
      log.debug('a tiny-file reader thread failed: its files are read on the main thread', { reason: (error as Error).message });
      this.workers = this.started().filter((each) => each !== worker);
      await worker.terminate();
      return undefined;
    }
  }
}

function tinyRead(batch: Buffer, { start, sizes, hexes, fileHex }: TinyFileRead): TinyRead {
  const size = sizes.reduce((sum, each) => sum + each, 0);
  const chunks = sizes.map((each, index) => ({ size: each, digest: digestFromHex(hexes[index]!) }));
  return { bytes: batch.subarray(start, start + size), chunks, fileDigest: fileHex === undefined ? chunks[0]!.digest : digestFromHex(fileHex) };
}
