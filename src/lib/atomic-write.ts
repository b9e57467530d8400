import { randomBytes } from 'node:crypto';
import { link, mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { forEachConcurrently } from './concurrently.js';
import { writeNewFileDirect } from './direct-io.js';

// Every local write that must never be seen half-done goes through here: a temp file in the same folder (so the
// rename stays on one file system), fsync of the data, rename, then fsync of the folder so the new name survives
// a power cut. Readers see the old file or the new one, never a mix. Temp names start with "." and end with
// ".tmp" so listings and `aim gc` can recognise leftovers of a killed process.

export function tempPathFor(finalPath: string): string {
  return join(dirname(finalPath), `.${basename(finalPath)}.${randomBytes(6).toString('hex')}.tmp`);
}

export function isTempName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp');
}

/** Creates the temp file, and its folder only when missing: most writes go to folders that exist, so try first. */
async function openTemp(temp: string): Promise<FileHandle> {
  try {
    return await open(temp, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    await mkdir(dirname(temp), { recursive: true });
    return open(temp, 'wx');
  }
}

async function writeTemp(finalPath: string, data: Uint8Array | string, durable: boolean): Promise<string> {
  const temp = tempPathFor(finalPath);
  const handle = await openTemp(temp);
  try {
    const direct = typeof data !== 'string' && (await writeNewFileDirect(temp, handle, data));
    if (!direct) await handle.writeFile(data);
    if (durable) await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  return temp;
}

export async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } catch {
    // Some file systems (and NFS clients) refuse fsync on a directory; the rename is still atomic there.
  } finally {
    await handle.close();
  }
}

/** Makes files written with `durable: false` durable, then their folders (their new names). */
export async function syncFiles(paths: string[]): Promise<void> {
  // A few at once: the file system folds concurrent fsyncs into one journal commit and one flush of the disk's cache.
  await forEachConcurrently(paths, 4, async (path) => {
    const handle = await open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  });
  await forEachConcurrently(new Set(paths.map((path) => dirname(path))), 4, syncFolder);
}

export interface AtomicWriteOptions {
  /** fsync data and folder (default true). Off only for caches whose loss costs a re-read, never data. */
  durable?: boolean;
}

/** Writes `data` under `finalPath` atomically, replacing what was there. */
export async function writeAtomic(finalPath: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): Promise<void> {
  const durable = options.durable ?? true;
  const temp = await writeTemp(finalPath, data, durable);
  try {
    await rename(temp, finalPath);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  if (durable) await syncFolder(dirname(finalPath));
}

/**
 * Writes `data` under `finalPath` only if nothing is there yet; returns false if something was. link(2) fails with
 * EEXIST atomically, also on NFS, so two writers racing for the same content-addressed key cannot clobber each other.
 */
export async function writeAtomicIfAbsent(finalPath: string, data: Uint8Array, options: AtomicWriteOptions = {}): Promise<boolean> {
  const durable = options.durable ?? true;
  const temp = await writeTemp(finalPath, data, durable);
  try {
    await link(temp, finalPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  if (durable) await syncFolder(dirname(finalPath));
  return true;
}
