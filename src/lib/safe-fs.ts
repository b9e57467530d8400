import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, rmdir, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { StorageError } from './errors.js';
import { shownPath } from './held-folder.js';

// Opening files in folders that others can write (a shared repository, a pull's DEST/.aim, AIM_HOME). Whatever
// sits there may be a symlink to anywhere, a FIFO whose open() blocks a libuv thread for good (and process exit
// waits for that thread), or a device with endless bytes. So a file is opened without following a final link and
// without blocking (O_NOFOLLOW | O_NONBLOCK; the flag changes nothing for a regular file), then fstat'ed, and
// anything but a regular file is refused. Folders on the way are checked with lstat: a link there would take
// every later open and write somewhere else.

const SAFE_OPEN = constants.O_NOFOLLOW | constants.O_NONBLOCK;
const REFUSE_HINT = 'aim opens only regular files there and follows no link it did not make: remove it or put the real file in its place';

/** "a symlink", "a FIFO", ...: what a non-regular file is, for messages. */
export function kindOf(info: Stats): string {
  if (info.isFile()) return 'a file';
  if (info.isSymbolicLink()) return 'a symlink';
  if (info.isDirectory()) return 'a folder';
  if (info.isFIFO()) return 'a FIFO';
  if (info.isCharacterDevice() || info.isBlockDevice()) return 'a device';
  if (info.isSocket()) return 'a socket';
  return 'something else';
}

function notRegular(path: string, kind: string): StorageError {
  return new StorageError(`${shownPath(path)} is ${kind}, not a regular file`, { hint: REFUSE_HINT });
}

/**
 * Opens the regular file at `path` (`flags` from fs.constants, read-only by default) without following a link at
 * its name and without blocking; throws a StorageError naming what is there instead (a link, a FIFO, a device).
 * Errors of the open itself (ENOENT, EACCES) pass through unchanged for the caller to translate.
 */
export async function openRegular(path: string, flags: number = constants.O_RDONLY): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, flags | SAFE_OPEN);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw notRegular(path, 'a symlink');
    if (code === 'ENXIO') throw notRegular(path, 'a FIFO'); // opened for writing with no reader
    if (code === 'EISDIR') throw notRegular(path, 'a folder');
    throw error;
  }
  const info = await handle.stat().catch(async (error: unknown) => {
    await handle.close();
    throw error;
  });
  if (!info.isFile()) {
    await handle.close();
    throw notRegular(path, kindOf(info));
  }
  return handle;
}

/** Whether two open handles are the same file (device and inode): a second open by name may have met another one. */
export async function sameFile(a: FileHandle, b: FileHandle): Promise<boolean> {
  const [first, second] = await Promise.all([a.stat(), b.stat()]);
  return first.ino === second.ino && first.dev === second.dev;
}

/**
 * Reads into `target` from file `position` until it is full or the file ends; returns the count. With `blockSize`
 * (a direct handle), a read of part of a block can only be the end of the file, and nothing could be read on from
 * that unaligned point anyway.
 */
export async function readFully(handle: FileHandle, target: Uint8Array, position: number, blockSize = 1): Promise<number> {
  let filled = 0;
  while (filled < target.length) {
    const { bytesRead } = await handle.read(target, filled, target.length - filled, position + filled);
    filled += bytesRead;
    if (bytesRead === 0 || bytesRead % blockSize !== 0) break;
  }
  return filled;
}

/** A file larger than its format can ever need: damaged or hostile, and not read. */
export class FileTooLargeError extends StorageError {
  constructor(
    path: string,
    readonly size: number,
    maxBytes: number,
  ) {
    super(`${path} is ${size} bytes, more than the ${maxBytes} such a file can hold`, { hint: 'the file is damaged or hostile: remove it' });
  }
}

/**
 * The whole regular file at `path` (see openRegular), as long as fstat says it is when opened: a file that grows
 * meanwhile cannot make this read more. `maxBytes` refuses a file larger than what its format can ever need.
 */
export async function readRegularFile(path: string, maxBytes = Number.MAX_SAFE_INTEGER): Promise<Buffer> {
  const handle = await openRegular(path);
  try {
    const { size } = await handle.stat();
    if (size > maxBytes) {
      throw new FileTooLargeError(path, size, maxBytes);
    }
    const buffer = Buffer.allocUnsafe(size);
    return buffer.subarray(0, await readFully(handle, buffer, 0));
  } finally {
    await handle.close();
  }
}

/** Like readRegularFile, but undefined when nothing is there (ENOENT); anything but a regular file still throws. */
export async function readRegularFileIfExists(path: string, maxBytes?: number): Promise<Buffer | undefined> {
  return readRegularFile(path, maxBytes).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
}

export interface RealFolderOptions {
  /** Create the folders that are missing (one at a time, each checked). Default: stop at the first missing one. */
  create?: boolean;
}

/**
 * Checks that each of `parts`, one below the other under `root`, is a real folder and not a link or a file (the
 * root itself is the user's choice and may be a link); with `create`, makes those that are missing, the root too. Returns the
 * folder's path. Without `create`, a missing folder ends the check: whatever is below it does not exist either.
 */
export async function realFolder(root: string, parts: string[], options: RealFolderOptions = {}): Promise<string> {
  if (options.create) await makeFolders(root);
  let folder = root;
  for (const part of parts) {
    folder = join(folder, part);
    let info = await lstat(folder).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (!info) {
      if (!options.create) return join(root, ...parts);
      await mkdir(folder).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
      info = await lstat(folder); // made by us, or by a racing process: checked either way
    }
    if (!info.isDirectory()) {
      throw new StorageError(`${folder} is ${kindOf(info)}, not a folder`, { hint: REFUSE_HINT.replace('the real file', 'a real folder') });
    }
  }
  return folder;
}

/**
 * Removes each folder in turn while it is empty; stops at the first that is not, or is not there. rmdir(2) removes
 * no link: a link planted at one of the names stays, and so does everything after it.
 */
export async function removeEmptyFolders(folders: string[]): Promise<void> {
  for (const folder of folders) if (!(await rmdir(folder).then(() => true, () => false))) return;
}

/**
 * mkdir -p `dest`. Node's recursive mkdir reports ENOENT where the file system refuses the first new folder (EROFS,
 * EACCES), which would read as "does not exist": each missing folder is then made on its own, and fails with its real
 * cause.
 */
export async function makeFolders(dest: string): Promise<void> {
  try {
    await mkdir(dest, { recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const missing: string[] = [];
    for (let folder = dest; !(await lstat(folder).then(() => true, () => false)); folder = dirname(folder)) missing.unshift(folder);
    for (const folder of missing) await mkdir(folder);
  }
}
