import { statSync } from 'node:fs';
import { moveNoReplaceSync } from '../../lib/move-no-replace.js';
import { nativeBlake3 } from '../hashing/blake3-native.js';
import { writePartial } from './pull-partial-write.js';

// The work of the small-file writer (small-file-writer.ts): plain synchronous file system calls, one after another,
// on its worker thread, or inline on the main thread where no worker can start. Thousands of tiny files cost a few
// system calls each; made from the main thread, each call's round trip through libuv (a promise, a wake-up) cost
// more there than the call itself in the kernel, and the main thread set the pace of the pull. Failures come back as
// data, with their code and path, so the main thread raises the same plain errors as for its own calls.

/** One chunk of a pack read, in the writer's memory: its bytes, their digest to check, and the partials made of it. */
export interface ChunkToWrite {
  /** [start, end) of the chunk's bytes in the memory. */
  start: number;
  end: number;
  /** Hex BLAKE3 the bytes must have; absent when the main thread checked them already. */
  hex?: string;
  /** Each partial made of the chunk: path, mode, and whether its stat comes back (`written` in the reply). */
  files: Array<[string, number, boolean?]>;
}

/**
 * `moves`: each partial's path and its target's, all joined by NUL (which no path holds): one string crosses to the
 * worker as one copy, where ten thousand pairs of strings took longer to send than to rename.
 */
export type SmallFileJob = { op: 'write'; chunks: ChunkToWrite[] } | { op: 'install'; moves: string };

export interface JobFailure {
  message: string;
  code?: string;
  path?: string;
  /** A rename's target. */
  dest?: string;
  syscall?: string;
}

/** What the install state records of a file: four numbers a file in a reply's `stats` and `written`. */
export interface FileStat {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

/** The `index`th file's stat among a reply's numbers. */
export function statAt(numbers: Float64Array, index: number): FileStat {
  const at = index * 4;
  return { size: numbers[at]!, mtimeMs: numbers[at + 1]!, ctimeMs: numbers[at + 2]!, ino: numbers[at + 3]! };
}

export interface JobReply {
  /** Chunks whose partials were all written, or moves made, in order: the job stopped there if it did not finish. */
  done: number;
  /** The chunk at `done` does not have its digest; nothing of it was written. */
  corrupt?: boolean;
  failure?: JobFailure;
  /** For each move made: the target's size, mtimeMs, ctimeMs and inode after the rename (four numbers a move). */
  stats?: Float64Array;
  /** The same four numbers for each file written whose stat was asked for, in order, as written. */
  written?: Float64Array;
}

/** Runs `job` over `memory` (the bytes its chunks point into). */
export function runSmallFileJob(memory: Uint8Array, job: SmallFileJob): JobReply {
  return job.op === 'write' ? writeChunks(memory, job.chunks) : moveIntoPlace(job.moves);
}

function writeChunks(memory: Uint8Array, chunks: ChunkToWrite[]): JobReply {
  const native = nativeBlake3();
  const written: number[] = [];
  const reply = (fields: Omit<JobReply, 'written'>): JobReply => (written.length > 0 ? { ...fields, written: new Float64Array(written) } : fields);
  // Indexed loops: this runs once a file, much of it before the JIT has optimised it.
  for (let index = 0; index < chunks.length; index++) {
    const chunk = chunks[index]!;
    const bytes = memory.subarray(chunk.start, chunk.end);
    if (chunk.hex !== undefined && native?.hex(bytes) !== chunk.hex) return reply({ done: index, corrupt: true });
    const mark = written.length;
    try {
      for (let at = 0; at < chunk.files.length; at++) {
        const partial = chunk.files[at]!;
        const info = writePartial(partial[0], bytes, partial[1], partial[2] === true);
        if (info) written.push(info.size, info.mtimeMs, info.ctimeMs, info.ino);
      }
    } catch (error) {
      written.length = mark; // the chunk is not done: none of its files count
      return reply({ done: index, failure: failureOf(error) });
    }
  }
  return reply({ done: chunks.length });
}

/**
 * Moves each partial to its target, which was free when the pull looked (a file put there since is refused: EEXIST),
 * then notes what the target's stat says (the install state records it).
 */
function moveIntoPlace(moves: string): JobReply {
  const paths = moves.split('\0');
  const count = paths.length >> 1;
  const stats = new Float64Array(count * 4);
  for (let index = 0; index < count; index++) {
    const target = paths[2 * index + 1]!;
    try {
      moveNoReplaceSync(paths[2 * index]!, target);
      const info = statSync(target);
      stats.set([info.size, info.mtimeMs, info.ctimeMs, info.ino], index * 4);
    } catch (error) {
      return { done: index, failure: failureOf(error), stats: stats.subarray(0, index * 4) };
    }
  }
  return { done: count, stats };
}

/** `moves` ([partial, target] pairs) as an install job carries them. */
export const joinMoves = (moves: Array<[string, string]>): string => moves.map(([partial, target]) => `${partial}\0${target}`).join('\0');

function failureOf(error: unknown): JobFailure {
  const { message, code, path, dest, syscall } = error as NodeJS.ErrnoException & { dest?: string };
  return { message: String(message), code, path, dest, syscall };
}

/** The failure as the error the system call threw, so that fs-errors.ts turns it into the same plain message. */
export function errorOf({ message, code, path, dest, syscall }: JobFailure): NodeJS.ErrnoException & { dest?: string } {
  return Object.assign(new Error(message), { code, path, dest, syscall });
}
