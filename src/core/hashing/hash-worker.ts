import { parentPort } from 'node:worker_threads';
import { createBLAKE3 } from 'hash-wasm';

// Runs in a worker thread: BLAKE3 in WASM is single-threaded and is the slowest stage of a push, so chunks are
// hashed here, in parallel with reading and chunking on the main thread. Buffers arrive transferred (no copy) and
// chunk buffers go back transferred, so the main thread can still upload them.

export type HashRequest =
  | { id: number; op: 'chunk'; bytes: Uint8Array }
  | { id: number; op: 'file-update'; file: number; bytes: Uint8Array }
  | { id: number; op: 'file-digest'; file: number };

export interface HashReply {
  id: number;
  hex?: string;
  bytes?: Uint8Array;
  error?: string;
}

const chunkHasher = await createBLAKE3();
const fileHashers = new Map<number, Awaited<ReturnType<typeof createBLAKE3>>>();

async function handle(request: HashRequest): Promise<HashReply> {
  if (request.op === 'chunk') {
    chunkHasher.init();
    chunkHasher.update(request.bytes);
    return { id: request.id, hex: chunkHasher.digest('hex'), bytes: request.bytes };
  }
  let hasher = fileHashers.get(request.file);
  if (!hasher) {
    hasher = await createBLAKE3();
    hasher.init();
    fileHashers.set(request.file, hasher);
  }
  if (request.op === 'file-update') {
    hasher.update(request.bytes);
    return { id: request.id };
  }
  fileHashers.delete(request.file);
  return { id: request.id, hex: hasher.digest('hex') };
}

// Requests are handled strictly one after another: a file's updates must reach its hasher in order, and the first
// update must not race the creation of that hasher.
let queue: Promise<unknown> = Promise.resolve();
parentPort!.on('message', (request: HashRequest) => {
  queue = queue.then(() => handle(request)).then(
    (reply) => parentPort!.postMessage(reply, reply.bytes ? [reply.bytes.buffer as ArrayBuffer] : []),
    (error: Error) => parentPort!.postMessage({ id: request.id, error: error.message }),
  );
});
