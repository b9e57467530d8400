import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { nativeBlake3 } from '../hashing/blake3-native.js';
import { cdcMode } from '../../settings/runtime.js';
import { HASH_SPAN, type Chunker } from './chunker.js';
import type { WorkerReply, WorkerRequest, WorkerSetup } from './cdc-worker.js';
import { installGear } from './gear-scan.js';
import { WorkerClient } from '../../lib/worker-rpc.js';
import { digestFromHex, type Digest } from '../format/digest.js';
import { BLOCK } from '../../lib/direct-memory.js';
import { openSource, readSource, type OpenSource } from './source-file.js';

/** A chunk, with its digest when whoever cut it also hashed it. */
export interface SourceChunk {
  bytes: Buffer;
  digest?: Digest;
  /** Call once the bytes are no longer needed (stored or skipped): they may be a view of a reused window. */
  release?: () => void;
}

/** The chunks of one file, and afterwards its whole-file digest when the cutter computed it. */
export interface ChunkSource {
  chunks: AsyncIterable<SourceChunk>;
  fileDigest(): Digest | undefined;
}

// The chunk reader for big files: the same boundaries as readChunks (chunk-reader.ts), found on all cores. A ring
// of windows in one shared WebAssembly memory is filled by reads; worker threads (one per core, two at most) each
// scan a part of every new window for the positions where the rolling hash matches (Chunker.scan's loop, in
// WebAssembly: gear-scan.wat); the main thread picks the boundaries from those (Chunker.cutAt); the workers hash
// the chunks and the file while the main thread reads the next window; then the chunks are handed out as views of
// the window, with no copy. A window is refilled only when every chunk handed out from it has been released, so
// memory is the ring (84 MiB) whatever the file size. Each window keeps a maximum chunk's worth of room in front
// of its data for the uncut tail of the window before it.

const DATA_SIZE = 16 * 1024 * 1024;
const RING = 4;
/** Bytes before a window's new data that its scan reads so that every rolling hash covers a whole span. */
const CONTEXT = HASH_SPAN - 1;
const MAX_WORKERS = 2;
// The shared memory: the gear table at 0, then each worker's output area for found positions, then the windows.
/** One match per 128 bytes of an 8 MiB part; random data has one per 256 KiB. */
export const OUT_ENTRIES = 64 * 1024;
const OUT_START = 64 * 1024;
const WINDOWS_START = OUT_START + MAX_WORKERS * OUT_ENTRIES * 4;
const PAGE = 64 * 1024;
const workerUrl = new URL('./cdc-worker.js', import.meta.url);

interface Window {
  /** Where this window starts in the shared memory, and a view of it. */
  base: number;
  buffer: Buffer;
  /** The first uncut byte (the previous window's tail), and the end of the data; new data starts at `reserve`. */
  start: number;
  end: number;
  /** Where the window's new data (at `reserve`) starts in the file. */
  offset: number;
  ended: boolean;
  /**
   * Found positions (Chunker.scan's encoding, relative to the window) of the carried tail, then of the new data
   * once scanned; undefined when too many positions matched to keep (adversarial data), and the window is then cut
   * one byte at a time, as is the next one.
   */
  carried: number[] | undefined;
  scanning?: Promise<Array<number[] | undefined>>;
  /** Chunks handed out and not released yet, and who waits for none to be left. */
  holds: number;
  onFree?: () => void;
}

export class ChunkingWorker {
  private readonly workers: Array<WorkerClient<WorkerRequest, WorkerReply>>;
  private readonly ring: Window[];
  private readonly reserve: number;
  private readonly memory: WebAssembly.Memory;

  private constructor(private readonly chunker: Chunker) {
    this.reserve = chunker.params.maxSize;
    const windowSize = this.reserve + DATA_SIZE;
    const pages = Math.ceil((WINDOWS_START + RING * windowSize) / PAGE);
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    installGear(this.memory, chunker);
    this.workers = Array.from({ length: Math.min(MAX_WORKERS, availableParallelism()) }, (_, i) => {
      const setup: WorkerSetup = { memory: this.memory, params: chunker.params, out: OUT_START + i * OUT_ENTRIES * 4, max: OUT_ENTRIES };
      return new WorkerClient<WorkerRequest, WorkerReply>(workerUrl, setup);
    });
    this.ring = Array.from({ length: RING }, (_, i) => {
      const base = WINDOWS_START + i * windowSize;
      const buffer = Buffer.from(this.memory.buffer, base, windowSize);
      return { base, buffer, start: 0, end: 0, offset: 0, ended: false, carried: [], holds: 0 };
    });
  }

  /**
   * Workers when the compiled one exists (not when tests run the TypeScript sources), AIM_CDC is not inline and
   * BLAKE3 is native (the hash-wasm fallback hashes on its own worker pool, from copies).
   */
  static create(chunker: Chunker): ChunkingWorker | undefined {
    const usable = cdcMode() === 'workers' && workerUrl.protocol === 'file:' && existsSync(fileURLToPath(workerUrl));
    return usable && nativeBlake3() ? new ChunkingWorker(chunker) : undefined;
  }

  /** Worth it for files that fill more than a window; small files are cut inline. */
  static worthIt(size: number): boolean {
    return size > DATA_SIZE;
  }

  /** Splits the window's new data between the workers; positions come back relative to the window. */
  private scan(window: Window, history: number): void {
    const { base, end } = window;
    const part = Math.ceil((end - this.reserve) / this.workers.length);
    window.scanning = guard(Promise.all(
      this.workers.map(async (worker, i) => {
        const from = Math.min(end, this.reserve + i * part);
        const to = Math.min(end, from + part);
        const { found } = await worker.call({ kind: 'scan', from: base + from, to: base + to, history: base + history });
        return found?.map((position) => position - base * 4);
      }),
    ));
  }

  /** Chunk digests on one worker, the whole-file hash (the window's new data, in order) on the other. */
  private async hash(window: Window, boundaries: Array<[number, number]>, first: boolean, last: boolean): Promise<WorkerReply> {
    const { base } = window;
    const ranges = boundaries.map(([from, to]): [number, number] => [base + from, base + to]);
    const [chunks, whole] = await Promise.all([
      this.workers.at(-1)!.call({ kind: 'chunks', ranges }),
      this.workers[0]!.call({ kind: 'file', from: base + this.reserve, to: base + window.end, first, last }),
    ]);
    return { ...chunks, fileDigest: whole.fileDigest };
  }

  private async fill(file: OpenSource, window: Window, offset: number): Promise<number> {
    if (window.holds > 0) await new Promise<void>((resolve) => (window.onFree = resolve));
    const filled = await readSource(file, window.buffer.subarray(this.reserve, this.reserve + DATA_SIZE), offset);
    window.start = this.reserve;
    window.end = this.reserve + filled;
    window.offset = offset;
    window.ended = filled < DATA_SIZE || offset + filled >= file.size;
    window.carried = [];
    return filled;
  }

  private release(window: Window): void {
    window.holds--;
    if (window.holds === 0 && window.onFree) {
      window.onFree();
      window.onFree = undefined;
    }
  }

  /** Reads `path`; release every chunk once it is stored (its bytes are a view of a window that gets reused). */
  read(path: string): ChunkSource {
    let fileDigest: Digest | undefined;
    const chunks = this.chunks(path, (hex) => (fileDigest = digestFromHex(hex)));
    return { chunks, fileDigest: () => fileDigest };
  }

  private async *chunks(path: string, onFileDigest: (hex: string) => void): AsyncGenerator<SourceChunk> {
    // Direct reads when the window's new data starts on a block: after a reserve of whole blocks.
    const file = await openSource(path, this.reserve % BLOCK === 0);
    let readAhead: Promise<void> | undefined;
    try {
      // Reads are chained and run a window ahead of the cutting. A window's scan needs only the 31 bytes before its
      // new data, not the cuts of the window before; it is queued right after the hashing of the window before, so
      // the workers hash what the main thread waits for first, then scan. A window's chunks are handed out once the
      // next window is cut and its hashing queued: the main thread stores them while the workers hash.
      let current = this.ring[0]!;
      await this.load(file, current);
      this.scan(current, this.reserve);
      readAhead = current.ended ? undefined : guard(this.load(file, this.ring[1]!, current));
      let cutBefore: { window: Window; boundaries: Array<[number, number]>; hashing: Promise<WorkerReply> } | undefined;
      for (let index = 1; ; index++) {
        const { boundaries, candidates, position } = await this.cut(current);
        const more = !current.ended;
        const hashing = guard(this.hash(current, boundaries, index === 1, !more));
        const next = this.ring[index % RING]!;
        if (more) {
          await readAhead;
          this.carryTail(current, next, position, candidates);
          readAhead = next.ended ? undefined : guard(this.load(file, this.ring[(index + 1) % RING]!, next));
        }
        if (cutBefore) yield* this.handOut(cutBefore.window, cutBefore.boundaries, (await cutBefore.hashing).digests!);
        cutBefore = { window: current, boundaries, hashing };
        if (!more) {
          const { digests, fileDigest } = await hashing;
          yield* this.handOut(current, boundaries, digests!);
          onFileDigest(fileDigest!);
          return;
        }
        current = next;
      }
    } finally {
      await readAhead?.catch(() => undefined);
      await file.handle.close();
    }
  }

  /** Fills `window` with the file's next bytes, and puts the last bytes of `previous` in front as scan context. */
  private async load(file: OpenSource, window: Window, previous?: Window): Promise<void> {
    file.offset += await this.fill(file, window, file.offset);
    if (previous) previous.buffer.copy(window.buffer, this.reserve - CONTEXT, previous.end - CONTEXT, previous.end);
  }

  /**
   * The window's chunk boundaries, from the positions its scan found: all of it when the file ends there, else up to
   * where a maximum chunk may no longer fit (that tail is cut with the next window).
   */
  private async cut(window: Window): Promise<{ boundaries: Array<[number, number]>; candidates?: number[]; position: number }> {
    const { chunker, reserve } = this;
    const parts = await window.scanning!;
    const candidates = window.carried && parts.every(Boolean) ? window.carried.concat(...(parts as number[][])) : undefined;
    const cursor = { index: 0 };
    const boundaries: Array<[number, number]> = [];
    let position = window.start;
    while (position < window.end && (window.ended || window.end - position >= chunker.params.maxSize)) {
      // Chunks in the file's head are cut with the head's sizes, one byte at a time (a few MiB per file).
      const cutter = chunker.at(window.offset + position - reserve);
      const length =
        candidates && cutter === chunker
          ? chunker.cutAt(window.buffer, position, window.end, candidates, cursor)
          : cutter.cut(window.buffer, position, window.end);
      boundaries.push([position, position + length]);
      position += length;
    }
    return { boundaries, candidates, position };
  }

  /** The uncut tail of `current` goes in front of `next`'s data, with the positions found in it; then `next` is scanned. */
  private carryTail(current: Window, next: Window, position: number, candidates: number[] | undefined): void {
    const tail = current.end - position;
    current.buffer.copy(next.buffer, this.reserve - tail, position, current.end);
    next.start = this.reserve - tail;
    const shift = (next.start - position) * 4;
    next.carried = candidates?.filter((found) => found >= position * 4).map((found) => found + shift);
    this.scan(next, this.reserve - CONTEXT);
  }

  /** The window's chunks as views of it, each holding the window until released. */
  private *handOut(window: Window, boundaries: Array<[number, number]>, digests: string[]): Generator<SourceChunk> {
    for (const [i, [from, to]] of boundaries.entries()) {
      window.holds++;
      yield { bytes: window.buffer.subarray(from, to), digest: digestFromHex(digests[i]!), release: once(() => this.release(window)) };
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}

/** A promise whose failure is reported where it is awaited, not as an unhandled rejection if it never is. */
function guard<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

function once(action: () => void): () => void {
  let done = false;
  return () => {
    if (!done) action();
    done = true;
  };
}
