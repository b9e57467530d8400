import { constants } from 'node:fs';
import { statfs, type FileHandle } from 'node:fs/promises';
import { DISK_FILE_SYSTEMS } from './local-disk.js';
import { dirname } from 'node:path';
import { alignDown, alignedMemories, alignUp, BLOCK, memory, refused, widenableMemories } from './direct-memory.js';
import { openRegular, readFully } from './safe-fs.js';
import { shownPath } from './held-folder.js';

export { bufferForDirectReads, bufferForDirectWrite, VIEW_SLACK, viewForPosition } from './direct-memory.js';

// Big files go around the page cache (O_DIRECT): pulled files, big files being pushed (read once), and a local
// repository's chunks and packs, written and read. Why: both sides fsync what they write anyway, and a pushed file
// is read once, so the cache only costs; a 70 GB push or pull no longer evicts everything else from it; and on a
// virtual machine that hands freed memory back to its host (free-page reporting) every fresh page-cache page costs a
// fault in the host, which makes buffered I/O of big files cost many times the system time of direct I/O
// (docs/benchmarks.md has the figures).
// Only local disk file systems take this path (NFS, FUSE and tmpfs keep the usual one), and AIM_DIRECT_IO=0 turns
// it off.
//
// O_DIRECT wants the buffer, the file offset and the length aligned to the device's block (512 or 4096 bytes), while
// chunks start anywhere. A whole file (a chunk) is copied into an aligned buffer, padded and cut to size after. A
// pulled file's writes are split: their whole blocks go through an aligned staging buffer, and the partial blocks at
// either end ("edges") wait in aligned block buffers until the neighbouring writes fill them. A ranged read reads the
// aligned blocks around the range and copies the range out. A file system that refuses O_DIRECT (EINVAL) gets the
// usual reads and writes. Every file is opened as safe-fs opens it: a regular file, never through a link at its name.

/** Below this, a file written whole (a stored chunk) is written the usual way: manifests, tags, small chunks. */
const MIN_DIRECT_WHOLE_FILE = 64 * 1024;

const folderTakesDirect = new Map<string, Promise<boolean>>();
let directAllowed = true;

/** Turns direct I/O off (or on again) for the whole process; every command applies the AIM_DIRECT_IO setting here. */
export function allowDirectIo(allowed: boolean): void {
  directAllowed = allowed;
}

/** Whether direct I/O is worth trying in `folder` (unless turned off); asked once per folder. */
export function directWanted(folder: string): Promise<boolean> {
  if (!directAllowed || process.platform !== 'linux' || !constants.O_DIRECT) return Promise.resolve(false);
  // Keyed by the folder's own path: a held folder's /proc/self/fd/N names another folder once N is reused.
  const key = shownPath(folder);
  let answer = folderTakesDirect.get(key);
  if (!answer) {
    // O_DIRECT is the usual, fast path on a disk's file system; not on NFS, FUSE or tmpfs.
    answer = statfs(folder).then((info) => DISK_FILE_SYSTEMS.has(info.type), () => false);
    folderTakesDirect.set(key, answer);
  }
  return answer;
}

/**
 * Writes all of `data` into the new, empty file at `path` (already created and open as `handle`, which must still be
 * synced) around the page cache; false, with nothing written, where direct writes are not wanted or refused.
 */
export async function writeNewFileDirect(path: string, handle: FileHandle, data: Uint8Array): Promise<boolean> {
  if (data.length < MIN_DIRECT_WHOLE_FILE || !(await directWanted(dirname(path)))) return false;
  const direct = await openRegular(path, constants.O_WRONLY | constants.O_DIRECT).catch(() => undefined);
  if (!direct) return false;
  const padded = alignUp(data.length);
  // Data in aligned memory with room for the padding goes as it is (what lies past its end is cut off after).
  const inPlace = alignedMemories.has(data.buffer) && data.byteOffset % BLOCK === 0 && data.byteOffset + padded <= data.buffer.byteLength;
  let buffer: Buffer | undefined;
  try {
    if (!inPlace) {
      buffer = memory.takeFileBuffer(data.length);
      buffer.set(data);
      buffer.fill(0, data.length, padded);
    }
    await writeAligned(direct, buffer?.subarray(0, padded) ?? Buffer.from(data.buffer, data.byteOffset, padded), 0);
    if (padded !== data.length) await handle.truncate(data.length);
    return true;
  } catch (error) {
    // Refused after all: the caller writes the usual way over whatever landed.
    if (!refused(error)) throw error;
    await handle.truncate(0);
    return false;
  } finally {
    if (buffer) memory.giveFileBuffer(buffer);
    await direct.close();
  }
}

/**
 * Reads up to `target.length` bytes of the file at `path` from `offset` around the page cache, into `target`; the
 * count read (short at the end of the file), or undefined where direct reads are not wanted (then read the usual
 * way). A cold read skips the page cache's cost, one host fault per page on such virtual machines; reads of the
 * repository are cold anyway, since push writes it directly.
 */
export async function readDirect(path: string, target: Uint8Array, offset: number): Promise<number | undefined> {
  if (target.length < MIN_DIRECT_WHOLE_FILE || !(await directWanted(dirname(path)))) return undefined;
  let direct: FileHandle;
  try {
    direct = await openRegular(path, constants.O_RDONLY | constants.O_DIRECT);
  } catch (error) {
    if (refused(error)) return undefined;
    throw error;
  }
  const start = alignDown(offset);
  const end = alignUp(offset + target.length);
  let buffer: Buffer | undefined;
  try {
    const inPlace = blocksAround(target, offset, end - start);
    if (inPlace) return Math.max(0, Math.min((await readFully(direct, inPlace, start, BLOCK)) - (offset - start), target.length));
    buffer = memory.takeFileBuffer(end - start);
    const got = await readFully(direct, buffer.subarray(0, end - start), start, BLOCK);
    const count = Math.max(0, Math.min(got - (offset - start), target.length));
    target.set(buffer.subarray(offset - start, offset - start + count));
    return count;
  } catch (error) {
    if (refused(error)) return undefined;
    throw error;
  } finally {
    if (buffer) memory.giveFileBuffer(buffer);
    await direct.close();
  }
}

/**
 * The whole blocks around `target` in its memory, when a direct read of them from `offset`'s block may land there:
 * the memory is widenable, the target sits where `offset` sits in a block, and the blocks fit in the memory.
 */
function blocksAround(target: Uint8Array, offset: number, length: number): Buffer | undefined {
  const first = target.byteOffset - (offset % BLOCK);
  if (!widenableMemories.has(target.buffer) || first < 0 || first % BLOCK !== 0 || first + length > target.buffer.byteLength) return undefined;
  return Buffer.from(target.buffer, first, length);
}

/**
 * Up to `target.length` bytes of the regular file at `path` from `offset`: around the page cache where the file
 * system allows it (readDirect), the usual way elsewhere. The count read, short only at the end of the file.
 */
export async function readFileRange(path: string, target: Uint8Array, offset: number): Promise<number> {
  const direct = await readDirect(path, target, offset);
  if (direct !== undefined) return direct;
  const handle = await openRegular(path);
  try {
    return await readFully(handle, target, offset);
  } finally {
    await handle.close();
  }
}

/** All of `bytes` (aligned, whole blocks) at `position` through an O_DIRECT handle. */
export async function writeAligned(direct: FileHandle, bytes: Buffer, position: number): Promise<void> {
  for (let written = 0; written < bytes.length; ) {
    const { bytesWritten } = await direct.write(bytes, written, bytes.length - written, position + written);
    // A short direct write cannot go on from an unaligned point: treated as refused, the usual path takes over.
    if (bytesWritten === 0 || bytesWritten % BLOCK !== 0) throw Object.assign(new Error('short direct write'), { code: 'EINVAL' });
    written += bytesWritten;
  }
}
