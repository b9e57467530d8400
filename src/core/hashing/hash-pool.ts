import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { nativeBlake3 } from './blake3-native.js';
import { createDigester, digestFromHex, digestOf, type Digest } from '../format/digest.js';
import { WorkerClient } from '../../lib/worker-rpc.js';
import type { HashReply, HashRequest } from './hash-worker.js';

// With hash-wasm, hashes chunks on worker threads and whole files on a dedicated one, so that reading and chunking
// (main thread), chunk hashing and file hashing overlap on all cores. With native BLAKE3, or when the compiled
// worker is absent (unit tests run the TypeScript sources), hashing happens inline with the same results.

export interface FileDigester {
  /**
   * Feeds the next bytes of the file, in order. The bytes are copied; the caller may reuse them. The promise settles
   * when the worker has hashed them: callers bound how many they leave pending, so memory cannot pile up.
   */
  update(bytes: Uint8Array): Promise<void>;
  digest(): Promise<Digest>;
}

type HashWorker = WorkerClient<HashRequest, HashReply>;

const workerUrl = new URL('./hash-worker.js', import.meta.url);

export class HashPool {
  private readonly chunkWorkers: HashWorker[];
  private readonly fileWorker?: HashWorker;
  private nextFile = 0;

  /**
   * `wholeFiles`: also hash whole files, on a worker of their own (push, pull). Without it (verify) every core
   * hashes chunks.
   */
  constructor(options: { wholeFiles?: boolean } = {}) {
    const wholeFiles = options.wholeFiles ?? true;
    // Native BLAKE3 hashes a chunk in less time than a round trip to a worker costs, so it hashes here. Workers are
    // for hash-wasm, about ten times slower (figures at the top of blake3-native.ts).
    const compiled = !nativeBlake3() && workerUrl.protocol === 'file:' && existsSync(fileURLToPath(workerUrl));
    const chunkWorkerCount = Math.max(1, availableParallelism() - (wholeFiles ? 1 : 0));
    this.chunkWorkers = compiled ? Array.from({ length: chunkWorkerCount }, () => new WorkerClient<HashRequest, HashReply>(workerUrl)) : [];
    this.fileWorker = compiled && wholeFiles ? new WorkerClient<HashRequest, HashReply>(workerUrl) : undefined;
  }

  /** Hashes a chunk; the returned buffer holds the same bytes (it travelled to a worker and back). */
  async hashChunk(bytes: Buffer): Promise<{ digest: Digest; bytes: Buffer }> {
    if (this.chunkWorkers.length === 0) return { digest: await digestOf(bytes), bytes };
    const worker = this.chunkWorkers.reduce((best, candidate) => (candidate.inFlight < best.inFlight ? candidate : best));
    // Transfer needs a buffer that owns its whole ArrayBuffer; chunks from the reader are exact copies already.
    const owned = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : Buffer.from(bytes);
    const reply = await worker.call({ op: 'chunk', bytes: owned }, [owned.buffer as ArrayBuffer]);
    const returned = reply.bytes!;
    return { digest: digestFromHex(reply.hex!), bytes: Buffer.from(returned.buffer, returned.byteOffset, returned.byteLength) };
  }

  async fileDigester(): Promise<FileDigester> {
    const worker = this.fileWorker;
    if (!worker) {
      const inline = await createDigester();
      return { update: async (bytes) => inline.update(bytes), digest: async () => inline.digest() };
    }
    const file = this.nextFile++;
    return {
      update: async (bytes) => {
        await worker.call({ op: 'file-update', file, bytes });
      },
      digest: async () => digestFromHex((await worker.call({ op: 'file-digest', file })).hex!),
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.chunkWorkers, ...(this.fileWorker ? [this.fileWorker] : [])].map((w) => w.terminate()));
  }
}
