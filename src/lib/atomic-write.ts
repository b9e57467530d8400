import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { forEachConcurrently } from './concurrently.js';
import { writeNewFileDirect } from './direct-io.js';
import { StorageError } from './errors.js';
import { openRegular, realFolder } from './safe-fs.js';

// Every local write that must never be seen half-done goes through here: a temp file in the same folder (so the
// rename stays on one file system), fsync of the data, rename, then fsync of the folder so the new name survives
// a power cut. Readers see the old file or the new one, never a mix. Temp names start with "." and end with
// ".tmp" so listings and `aim gc` can recognise leftovers of a killed process. A temp file is created exclusively
// (O_EXCL, random name: never an existing file or a planted link), and rename and link replace or refuse a link at
// the final name instead of writing through it. With `root`, the folders between it and the file are checked to be
// real folders (safe-fs realFolder), so a planted link cannot carry the write elsewhere.

export function tempPathFor(finalPath: string): string {
  return join(dirname(finalPath), `.${basename(finalPath)}.${randomBytes(6).toString('hex')}.tmp`);
}

export function isTempName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp');
}

/**
 * Creates the temp file, and its folder only when missing: most writes go to folders that exist, so try first.
 * Under `root`, the folders are checked (and made) one by one, each a real folder.
 */
async function openTemp(temp: string, root: string | undefined): Promise<FileHandle> {
  if (root !== undefined) await realFolder(root, folderParts(root, dirname(temp)), { create: true });
  try {
    return await open(temp, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || root !== undefined) throw error;
    await mkdir(dirname(temp), { recursive: true });
    return open(temp, 'wx');
  }
}

/** The names of the folders from `root` down to `folder` (which lies inside it). */
function folderParts(root: string, folder: string): string[] {
  const rel = relative(root, folder);
  if (rel === '') return [];
  if (rel.startsWith('..') || rel.startsWith(sep)) throw new Error(`${folder} is not inside ${root}`);
  return rel.split(sep);
}

async function writeTemp(finalPath: string, data: Uint8Array | string, options: AtomicWriteOptions): Promise<string> {
  const temp = tempPathFor(finalPath);
  const handle = await openTemp(temp, options.root);
  const durable = options.durable ?? true;
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

/** Makes a regular file's bytes durable (never through a link). */
export async function syncFile(path: string): Promise<void> {
  const handle = await openRegular(path);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes files written with `durable: false` durable, then their folders (their new names). */
export async function syncFiles(paths: string[]): Promise<void> {
  // A few at once: the file system folds concurrent fsyncs into one journal commit and one flush of the disk's cache.
  await forEachConcurrently(paths, 4, syncFile);
  await forEachConcurrently(new Set(paths.map((path) => dirname(path))), 4, syncFolder);
}

export interface AtomicWriteOptions {
  /** fsync data and folder (default true). Off only for caches whose loss costs a re-read, never data. */
  durable?: boolean;
  /** A folder the file lies under whose subfolders must be real folders, never links (see safe-fs realFolder). */
  root?: string;
}

/** Writes `data` under `finalPath` atomically, replacing what was there. */
export async function writeAtomic(finalPath: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): Promise<void> {
  const temp = await writeTemp(finalPath, data, options);
  try {
    await rename(temp, finalPath);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  if (options.durable ?? true) await syncFolder(dirname(finalPath));
}

/**
 * Writes `data` under `finalPath` only if nothing is there yet; returns false if something was. link(2) fails with
 * EEXIST atomically, also on NFS, so two writers racing for the same content-addressed key cannot clobber each other.
 */
export async function writeAtomicIfAbsent(finalPath: string, data: Uint8Array, options: AtomicWriteOptions = {}): Promise<boolean> {
  const temp = await writeTemp(finalPath, data, options);
  try {
    await link(temp, finalPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return await expectRegular(finalPath);
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  if (options.durable ?? true) await syncFolder(dirname(finalPath));
  return true;
}

/** False when a regular file already holds the name; a link or anything else there is refused, never counted as it. */
async function expectRegular(path: string): Promise<false> {
  const info = await lstat(path);
  if (!info.isFile()) {
    throw new StorageError(`${path} is ${info.isSymbolicLink() ? 'a symlink' : 'not a regular file'}, where aim would store a file`, {
      hint: 'aim follows no link it did not make: remove it, then run the command again',
    });
  }
  return false;
}
