import { serveRequests, workerSetup } from '../../lib/worker-rpc.js';
import { nativeBlake3 } from '../hashing/blake3-native.js';
import { Chunker, type ChunkingParams } from './chunker.js';
import { GearScan } from './gear-scan.js';

// Runs in a worker thread, over a shared memory whose windows the main thread fills (parallel-chunk-reader.ts).
// Offsets in requests are offsets in that memory.
// - scan: the positions in a part of a window where the rolling hash matches (Chunker.scan, in WebAssembly).
//   Scanning is the slowest step of a push, and a position depends only on the 32 bytes before it, so the workers
//   split each window between them;
// - chunks: BLAKE3 of chunks whose boundaries the main thread picked; file: the file's bytes, in order.
// The main thread meanwhile reads the next window and stores the chunks of the one before.

export interface WorkerSetup {
  memory: WebAssembly.Memory;
  params: ChunkingParams;
  /** This worker's output area for found positions: `max` entries of 4 bytes from `out`. */
  out: number;
  max: number;
}

export type WorkerRequest =
  | {
      kind: 'scan';
      from: number;
      to: number;
      /** Where valid bytes begin: the scan reads up to 31 bytes before `from`, never before this. */
      history: number;
    }
  | { kind: 'chunks'; ranges: Array<[number, number]> }
  | { kind: 'file'; from: number; to: number; first: boolean; last: boolean };

export interface WorkerReply {
  /** scan: encoded positions (Chunker.scan's encoding), or undefined when too many matched to keep. */
  found?: number[];
  /** chunks: hex BLAKE3 of each range. */
  digests?: string[];
  /** file: hex BLAKE3 of the whole file, on the reply to its last range. */
  fileDigest?: string;
}

const native = nativeBlake3()!;
const { memory, params, out, max } = workerSetup<WorkerSetup>();
const data = new Uint8Array(memory.buffer);
const scanner = new GearScan(memory, new Chunker(params), out, max);
let fileHasher: ReturnType<typeof native.hasher> | undefined;

function handle(request: WorkerRequest): WorkerReply {
  switch (request.kind) {
    case 'scan':
      return { found: scanner.scan(request.from, request.to, request.history) };
    case 'chunks':
      return { digests: request.ranges.map(([from, to]) => native.hex(data.subarray(from, to))) };
    case 'file':
      if (request.first) fileHasher = native.hasher();
      fileHasher!.update(data.subarray(request.from, request.to));
      return { fileDigest: request.last ? fileHasher!.hex() : undefined };
  }
}

serveRequests(handle);
