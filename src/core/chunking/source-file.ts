import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { directWanted } from '../../lib/direct-io.js';
import { BLOCK, refused } from '../../lib/direct-memory.js';
import { ConflictError } from '../../lib/errors.js';
import { log } from '../../lib/log.js';
import { cachedShare } from '../../lib/page-cache.js';
import { openRegular, readFully, sameFile } from '../../lib/safe-fs.js';

// A big file being pushed, read around the page cache where its file system allows it (direct-io.ts): a push reads
// its source once, so caching it only costs (the kernel's copy into the reader's window, and a fresh page-cache page
// per 4 KiB), and a big push no longer evicts everything else from the cache.
// Unless the cache already holds most of it (a model just downloaded, converted or copied): then the file is read
// from memory, as cp reads it, instead of from the disk, whose one bandwidth the push's own pack writes share.

/** From this share of the file in the page cache, reading it through the cache costs less than reading the disk. */
const CACHED_ENOUGH = 0.5;

export interface OpenSource {
  path: string;
  handle: FileHandle;
  /** BLOCK when the file is read around the page cache (O_DIRECT): a read shorter than a block is its end. */
  block: number;
  size: number;
  /** Where the next read starts. */
  offset: number;
}

/**
 * Opens `path` for reading; directly when `aligned` says every read will be as O_DIRECT wants it (memory, file offset
 * and length in whole blocks, but for the file's end).
 */
export async function openSource(path: string, aligned: boolean): Promise<OpenSource> {
  let handle: FileHandle | undefined;
  let block = 1;
  if (aligned && constants.O_DIRECT && (await directWanted(dirname(path)))) {
    const direct = await openRegular(path, constants.O_RDONLY | constants.O_DIRECT).catch(() => undefined);
    handle = direct && (await buffersInstead(direct, path));
    if (direct && !handle) [handle, block] = [direct, BLOCK];
    if (direct) log.debug('source opened', { path, read: handle === direct ? 'direct' : 'cached' });
  }
  handle ??= await openRegular(path);
  try {
    return { path, handle, block, size: (await handle.stat()).size, offset: 0 };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/**
 * The file open as `direct`, opened again for reads through the page cache (and `direct` closed) when the cache holds
 * most of it; undefined, with `direct` left open, otherwise.
 */
async function buffersInstead(direct: FileHandle, path: string): Promise<FileHandle | undefined> {
  if (((await cachedShare(direct, (await direct.stat()).size)) ?? 0) < CACHED_ENOUGH) return undefined;
  const buffered = await reopenBuffered(direct, path).catch(() => undefined);
  if (buffered) await direct.close();
  return buffered;
}

/**
 * The file open as `handle`, opened again without O_DIRECT from the open descriptor (/proc/self/fd), not by its name,
 * which may lead elsewhere by now; where /proc is not mounted, by its name `path`, without following a link. Either
 * way it must be the same inode.
 */
async function reopenBuffered(handle: FileHandle, path: string): Promise<FileHandle> {
  const buffered = await open(`/proc/self/fd/${handle.fd}`, constants.O_RDONLY).catch(() => openRegular(path));
  if (await sameFile(handle, buffered).catch(() => false)) return buffered;
  await buffered.close();
  throw new ConflictError(`${path} was replaced while it was being pushed`, { hint: 'push again once nothing is writing to it' });
}

/** Fills `target` from `offset`; a file system that refuses a direct read (EINVAL) gets the usual reads from then on. */
export async function readSource(file: OpenSource, target: Uint8Array, offset: number): Promise<number> {
  try {
    return await readFully(file.handle, target, offset, file.block);
  } catch (error) {
    if (file.block === 1 || !refused(error)) throw error;
    const buffered = await reopenBuffered(file.handle, file.path);
    await file.handle.close();
    Object.assign(file, { handle: buffered, block: 1 });
    return readFully(file.handle, target, offset);
  }
}
