import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { directWanted } from '../../lib/direct-io.js';
import { BLOCK, refused } from '../../lib/direct-memory.js';
import { openRegular, readFully } from '../../lib/safe-fs.js';

// A big file being pushed, read around the page cache where its file system allows it (direct-io.ts): a push reads
// its source once, so caching it only costs (the kernel's copy into the reader's window, and a fresh page-cache page
// per 4 KiB), and a big push no longer evicts everything else from the cache.

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
  if (aligned && constants.O_DIRECT && (await directWanted(dirname(path)))) {
    handle = await openRegular(path, constants.O_RDONLY | constants.O_DIRECT).catch(() => undefined);
  }
  const block = handle ? BLOCK : 1;
  handle ??= await open(path, 'r');
  try {
    return { path, handle, block, size: (await handle.stat()).size, offset: 0 };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Fills `target` from `offset`; a file system that refuses a direct read (EINVAL) gets the usual reads from then on. */
export async function readSource(file: OpenSource, target: Uint8Array, offset: number): Promise<number> {
  try {
    return await readFully(file.handle, target, offset, file.block);
  } catch (error) {
    if (file.block === 1 || !refused(error)) throw error;
    await file.handle.close();
    Object.assign(file, { handle: await open(file.path, 'r'), block: 1 });
    return readFully(file.handle, target, offset);
  }
}
