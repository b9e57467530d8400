import { serveRequests, workerSetup } from '../../lib/worker-rpc.js';
import { Chunker, type ChunkingParams } from '../chunking/chunker.js';
import { nativeBlake3 } from '../hashing/blake3-native.js';
import { readTinyFiles, type TinyReadJob, type TinyReadReply } from './tiny-file-read.js';

// The push's tiny-file reader thread (tiny-file-reader.ts): reads a batch of files into the shared memory, cuts them
// into chunks and hashes those, with plain synchronous calls (tiny-file-read.ts).

export interface TinyReaderSetup {
  memory: SharedArrayBuffer;
  params: ChunkingParams;
}

const { memory, params } = workerSetup<TinyReaderSetup>();
const bytes = new Uint8Array(memory);
const chunker = new Chunker(params);
const blake3 = nativeBlake3()!;

serveRequests<TinyReadJob, TinyReadReply>((job) => readTinyFiles(bytes, job, chunker, blake3));
