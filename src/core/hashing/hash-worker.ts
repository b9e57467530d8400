import { createBLAKE3 } from 'hash-wasm';
import { serveRequests } from '../../lib/worker-rpc.js';

// Runs in a worker thread: BLAKE3 in WASM is single-threaded and is the slowest stage of a push, so chunks are
// hashed here, in parallel with reading and chunking on the main thread. Buffers arrive transferred (no copy) and
// chunk buffers go back transferred, so the main thread can still upload them.

export type HashRequest =
  | { op: 'chunk'; bytes: Uint8Array }
  | { op: 'file-update'; file: number; bytes: Uint8Array }
  | { op: 'file-digest'; file: number };

export interface HashReply {
  hex?: string;
  bytes?: Uint8Array;
}

const chunkHasher = await createBLAKE3();
const fileHashers = new Map<number, Awaited<ReturnType<typeof createBLAKE3>>>();

async function handle(request: HashRequest): Promise<HashReply> {
  if (request.op === 'chunk') {
    chunkHasher.init();
    chunkHasher.update(request.bytes);
    return { hex: chunkHasher.digest('hex'), bytes: request.bytes };
  }
  let hasher = fileHashers.get(request.file);
  if (!hasher) {
    hasher = await createBLAKE3();
    hasher.init();
    fileHashers.set(request.file, hasher);
  }
  if (request.op === 'file-update') {
    hasher.update(request.bytes);
    return {};
  }
  fileHashers.delete(request.file);
  return { hex: hasher.digest('hex') };
}

// Requests are handled strictly one after another (serveRequests' order): a file's updates must reach its hasher
// in order, and the first update must not race the creation of that hasher.
serveRequests(handle, (reply: HashReply) => (reply.bytes ? [reply.bytes.buffer as ArrayBuffer] : []));
