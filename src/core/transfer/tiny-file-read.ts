import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import type { Chunker } from '../chunking/chunker.js';
import type { NativeBlake3 } from '../hashing/blake3-native.js';

// Reading a tiny file as a push reads it ahead: opened non-blocking, without following a link at its name, and
// checked to be a regular file before any byte is read, so that a FIFO or a link swapped in since the walk is neither
// waited on nor followed (the push's usual read then refuses it with its own message). The push reads tiny files on
// its main thread (prefetch.ts) or, when there are many, a batch at a time on worker threads that also cut and hash
// them (tiny-file-reader.ts); both open them here.

/** Files up to this size are read whole, with plain synchronous calls. */
export const TINY_FILE = 64 * 1024;

/** The open descriptor of the regular file at `path` (not a link, not a FIFO), no bigger than `limit` bytes. */
export function openTinyFile(path: string, limit = TINY_FILE): number {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) throw new Error(`${path} is not a regular file`);
    if (info.size > limit) throw new Error(`${path} grew since the walk`);
    return fd;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/** A batch of tiny files to read into `[at, at + room)` of the shared memory, one after the other. */
export interface TinyReadJob {
  at: number;
  room: number;
  /** Each file's path and the size the walk saw. */
  files: Array<[string, number]>;
}

/** One file of a batch, read: where it landed (relative to the job's `at`), its chunks' sizes and digests. */
export interface TinyFileRead {
  start: number;
  sizes: number[];
  hexes: string[];
  /** BLAKE3 of the whole file, unless it is one chunk (its digest is then the chunk's). */
  fileHex?: string;
}

/** Per file of the job, in order: its read, or null when it is not as the walk saw it (gone, swapped, resized). */
export interface TinyReadReply {
  files: Array<TinyFileRead | null>;
  /** Bytes of the memory the reads took from `at`. */
  used: number;
}

/**
 * Reads, cuts (the same cuts as cutChunks) and hashes each file of the job. A file that cannot be read as the walk saw
 * it is null: the push reads it again its usual way, which says why it cannot.
 */
export function readTinyFiles(memory: Uint8Array, job: TinyReadJob, chunker: Chunker, blake3: NativeBlake3): TinyReadReply {
  const files: Array<TinyFileRead | null> = [];
  let used = 0;
  for (const [path, size] of job.files) {
    // One byte more than the walk saw, to tell a file that grew since.
    const wanted = size + 1;
    if (used + wanted > job.room) {
      files.push(null);
      continue;
    }
    const bytes = memory.subarray(job.at + used, job.at + used + wanted);
    if (readWhole(path, bytes) !== size) {
      files.push(null);
      continue;
    }
    files.push({ start: used, ...cutAndHash(bytes.subarray(0, size), chunker, blake3) });
    used += size;
  }
  return { files, used };
}

/** Bytes read from the file at `path` into `into`, up to its length; -1 when it cannot be opened as a tiny file. */
function readWhole(path: string, into: Uint8Array): number {
  let fd: number;
  try {
    fd = openTinyFile(path);
  } catch {
    return -1;
  }
  try {
    let filled = 0;
    for (let read = -1; read !== 0 && filled < into.length; filled += read) read = readSync(fd, into, filled, into.length - filled, null);
    return filled;
  } catch {
    return -1;
  } finally {
    closeSync(fd);
  }
}

function cutAndHash(bytes: Uint8Array, chunker: Chunker, blake3: NativeBlake3): Omit<TinyFileRead, 'start'> {
  const sizes: number[] = [];
  const hexes: string[] = [];
  for (let position = 0; position < bytes.length; ) {
    const length = chunker.at(position).cut(bytes, position, bytes.length);
    sizes.push(length);
    hexes.push(blake3.hex(bytes.subarray(position, position + length)));
    position += length;
  }
  // An empty file has no chunk, and its digest is still that of its (no) bytes.
  return sizes.length === 1 ? { sizes, hexes } : { sizes, hexes, fileHex: blake3.hex(bytes) };
}
