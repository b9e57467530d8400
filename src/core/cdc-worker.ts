import { parentPort } from 'node:worker_threads';
import { nativeBlake3 } from './blake3-native.js';
import { Chunker, type ChunkingParams } from './chunker.js';

// Runs in a worker thread, over windows of shared memory that the main thread fills (parallel-chunk-reader.ts):
// - scan: the positions in a part of a window where the rolling hash matches (Chunker.scan). Scanning is the
//   slowest step of a push, and a position depends only on the 32 bytes before it, so the workers split each
//   window between them;
// - hash: BLAKE3 of chunks whose boundaries the main thread picked, and of the file's bytes in order.
// The main thread meanwhile reads the next window and stores the chunks of the one before.

export type WorkerRequest = { id: number; window: SharedArrayBuffer } & (
  | {
      kind: 'scan';
      params: ChunkingParams;
      from: number;
      to: number;
      /** Where valid bytes begin: the scan reads up to 31 bytes before `from`, never before this. */
      history: number;
    }
  | { kind: 'chunks'; ranges: Array<[number, number]> }
  | { kind: 'file'; from: number; to: number; first: boolean; last: boolean }
);

export interface WorkerReply {
  id: number;
  /** scan: encoded positions, as Chunker.scan returns them. */
  found?: number[];
  /** chunks: hex BLAKE3 of each range. */
  digests?: string[];
  /** file: hex BLAKE3 of the whole file, on the reply to its last range. */
  fileDigest?: string;
}

let chunker: Chunker | undefined;
const native = nativeBlake3()!;
let fileHasher: ReturnType<typeof native.hasher> | undefined;

function handle(request: WorkerRequest): WorkerReply {
  const data = new Uint8Array(request.window);
  switch (request.kind) {
    case 'scan':
      if (JSON.stringify(chunker?.params) !== JSON.stringify(request.params)) chunker = new Chunker(request.params);
      return { id: request.id, found: chunker!.scan(data, request.from, request.to, request.history) };
    case 'chunks':
      return { id: request.id, digests: request.ranges.map(([from, to]) => native.hex(data.subarray(from, to))) };
    case 'file':
      if (request.first) fileHasher = native.hasher();
      fileHasher!.update(data.subarray(request.from, request.to));
      return { id: request.id, fileDigest: request.last ? fileHasher!.hex() : undefined };
  }
}

parentPort!.on('message', (request: WorkerRequest) => parentPort!.postMessage(handle(request)));
