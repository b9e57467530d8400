import { parentPort } from 'node:worker_threads';
import { nativeBlake3 } from './blake3-native.js';
import { Chunker, type ChunkingParams } from './chunker.js';

// Runs in a worker thread: content-defined chunking of a window of shared memory, so that cutting (the slowest
// step once hashing is native) overlaps with reading and storing on the main thread. With native BLAKE3 the worker
// also hashes each chunk and the whole file as it cuts, from the same bytes, in order.

export interface CutRequest {
  id: number;
  params: ChunkingParams;
  window: SharedArrayBuffer;
  start: number;
  end: number;
  /** The file ends at `end`: cut everything. Otherwise stop while less than a maximum chunk remains. */
  ended: boolean;
  /** The first window of a file: start a new whole-file hash. */
  first: boolean;
}

export interface CutReply {
  id: number;
  lengths: number[];
  /** Hex BLAKE3 of each chunk, when native hashing is available here. */
  digests?: string[];
  /** Hex BLAKE3 of the whole file, on the reply to its last window. */
  fileDigest?: string;
}

let chunker: Chunker | undefined;
const native = nativeBlake3();
let fileHasher: ReturnType<NonNullable<typeof native>['hasher']> | undefined;

parentPort!.on('message', (request: CutRequest) => {
  if (chunker?.params !== request.params && JSON.stringify(chunker?.params) !== JSON.stringify(request.params)) {
    chunker = new Chunker(request.params);
  }
  const data = new Uint8Array(request.window);
  const maxSize = request.params.maxSize;
  const lengths: number[] = [];
  const digests: string[] = [];
  if (native && request.first) fileHasher = native.hasher();
  let position = request.start;
  while (position < request.end && (request.ended || request.end - position >= maxSize)) {
    const length = chunker!.cut(data, position, request.end);
    if (native) {
      const chunk = data.subarray(position, position + length);
      digests.push(native.hex(chunk));
      fileHasher!.update(chunk);
    }
    lengths.push(length);
    position += length;
  }
  const fileDigest = native && request.ended ? fileHasher!.hex() : undefined;
  parentPort!.postMessage({ id: request.id, lengths, ...(native ? { digests } : {}), fileDigest } satisfies CutReply);
});
