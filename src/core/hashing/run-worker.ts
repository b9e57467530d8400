import { dieUnreported, serveRequests, workerSetup } from '../../lib/worker-rpc.js';
import { memoryMover } from '../chunking/gear-scan.js';
import { nativeBlake3 } from './blake3-native.js';

// Runs in a worker thread for a pull (transfer/verified-runs.ts), over a shared memory where runs of chunks read from
// packs land. For each run it hashes every chunk where it landed, then moves the run to where its write must start
// (a direct write wants the data where its file offset sits in a block; the read left it where its pack offset sits).
// Hashing and that copy were most of the main thread's CPU time in a pull of a big file; the main thread now only
// reads and writes.

export interface RunSetup {
  memory: WebAssembly.Memory;
  /** AIM_TEST_CHECKER_FAIL_AFTER (settings/test-hooks.ts): the run after whose check and move the thread dies. */
  failAfter?: number;
}

export interface RunRequest {
  /** Each chunk's bytes, as [from, to) offsets in the memory. */
  ranges: Array<[number, number]>;
  /** Where the run's bytes are moved to, from where, and how many (after they are hashed). */
  move: { to: number; from: number; length: number };
}

export interface RunReply {
  /** Hex BLAKE3 of each range. */
  digests: string[];
}

const native = nativeBlake3()!;
const { memory, failAfter } = workerSetup<RunSetup>();
const data = new Uint8Array(memory.buffer);
const move = memoryMover(memory);

let runsHandled = 0;

function handle({ ranges, move: { to, from, length } }: RunRequest): RunReply | Promise<never> {
  const digests = ranges.map(([start, end]) => native.hex(data.subarray(start, end)));
  move(to, from, length);
  return ++runsHandled === failAfter ? dieUnreported('AIM_TEST_CHECKER_FAIL_AFTER') : { digests };
}

serveRequests(handle);
