import { existsSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Chunker } from './chunker.js';
import type { CutReply, CutRequest } from './cdc-worker.js';
import { digestFromHex, type Digest } from './digest.js';

/** A chunk, with its digest when whoever cut it also hashed it. */
export interface SourceChunk {
  bytes: Buffer;
  digest?: Digest;
}

/** The chunks of one file, and afterwards its whole-file digest when the cutter computed it. */
export interface ChunkSource {
  chunks: AsyncIterable<SourceChunk>;
  fileDigest(): Digest | undefined;
}

// The chunk reader for big files: the same boundaries as readChunks (chunk-reader.ts), but the cutting runs on a
// worker thread over windows of shared memory while the main thread reads the next window and hashes and stores the
// chunks of the previous one. Two windows alternate; each keeps a maximum chunk's worth of room in front of its data
// for the uncut tail of the window before it.

const DATA_SIZE = 16 * 1024 * 1024;
const workerUrl = new URL('./cdc-worker.js', import.meta.url);

interface Window {
  buffer: Buffer;
  shared: SharedArrayBuffer;
  /** Where this window's uncut bytes start and end. */
  start: number;
  end: number;
  ended: boolean;
}

export class ChunkingWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, (reply: CutReply) => void>();
  private nextId = 0;
  private readonly windows: Window[];

  private constructor(private readonly chunker: Chunker) {
    this.worker = new Worker(workerUrl);
    this.worker.unref();
    this.worker.on('message', (reply: CutReply) => {
      this.pending.get(reply.id)?.(reply);
      this.pending.delete(reply.id);
    });
    const size = chunker.params.maxSize + DATA_SIZE;
    this.windows = [0, 1].map(() => {
      const shared = new SharedArrayBuffer(size);
      return { shared, buffer: Buffer.from(shared), start: 0, end: 0, ended: false };
    });
  }

  /** A worker when the compiled one exists (not when tests run the TypeScript sources) and AIM_CDC is not inline. */
  static create(chunker: Chunker): ChunkingWorker | undefined {
    const usable = process.env.AIM_CDC !== 'inline' && workerUrl.protocol === 'file:' && existsSync(fileURLToPath(workerUrl));
    return usable ? new ChunkingWorker(chunker) : undefined;
  }

  /** Worth it for files that fill more than a window; small files are cut inline. */
  static worthIt(size: number): boolean {
    return size > DATA_SIZE;
  }

  private cut(window: Window, first: boolean): Promise<CutReply> {
    const id = this.nextId++;
    const request: CutRequest = { id, params: this.chunker.params, window: window.shared, start: window.start, end: window.end, ended: window.ended, first };
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.worker.postMessage(request);
    });
  }

  private async fill(handle: FileHandle, window: Window, size: number, offset: number): Promise<number> {
    const reserve = this.chunker.params.maxSize;
    let filled = 0;
    while (filled < DATA_SIZE) {
      const { bytesRead } = await handle.read(window.buffer, reserve + filled, DATA_SIZE - filled, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    window.start = reserve;
    window.end = reserve + filled;
    window.ended = filled < DATA_SIZE || offset + filled >= size;
    return filled;
  }

  /** Reads `path`; the chunks must be consumed before the next call (the windows are shared). */
  read(path: string): ChunkSource {
    let fileDigest: Digest | undefined;
    const chunks = this.chunks(path, (hex) => (fileDigest = digestFromHex(hex)));
    return { chunks, fileDigest: () => fileDigest };
  }

  private async *chunks(path: string, onFileDigest: (hex: string) => void): AsyncGenerator<SourceChunk> {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      let offset = 0;
      let current = this.windows[0]!;
      offset += await this.fill(handle, current, size, offset);
      let cutting = this.cut(current, true);
      for (let index = 1; ; index++) {
        const next = this.windows[index % 2]!;
        const more = !current.ended;
        if (more) offset += await this.fill(handle, next, size, offset);
        const reply = await cutting;
        let position = current.start;
        const boundaries = reply.lengths.map((length) => [position, (position += length)] as const);
        if (more) {
          // The uncut tail of this window goes in front of the next window's data, then the worker cuts that
          // window while this one's chunks are handed out below.
          const tail = current.end - position;
          current.buffer.copy(next.buffer, next.start - tail, position, current.end);
          next.start -= tail;
          cutting = this.cut(next, false);
        } else if (reply.fileDigest) {
          onFileDigest(reply.fileDigest);
        }
        for (const [i, [from, to]] of boundaries.entries()) {
          const hex = reply.digests?.[i];
          yield { bytes: Buffer.from(current.buffer.subarray(from, to)), digest: hex ? digestFromHex(hex) : undefined };
        }
        if (!more) return;
        current = next;
      }
    } finally {
      await handle.close();
    }
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
