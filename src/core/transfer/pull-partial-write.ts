import { closeSync, constants, fchmodSync, fstatSync, open, unlinkSync, writeSync } from 'node:fs';
import { openRegular } from '../../lib/safe-fs.js';

// How the small-file path (pull-small.ts) writes a partial. Only the create goes to libuv's threads, where many run at
// once: it is the one call that can take long (ext4 without a journal scans past every inode freed in the last
// minute before it hands out a new one). Write and close of a few KiB are a few microseconds in the kernel and run
// on the main thread: sent to libuv's threads as promises, each cost more on the main thread than in the kernel (a
// promise, a handle object, a wake-up), and the main thread was the pull's bottleneck. Nothing is synced here: the
// caller makes every partial durable in one pass before anything renames it into place (lib/sync-file-system.ts).

/** Created exclusively, never through a link. */
const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * The permission bits the umask takes from a new file, learnt from the first file this process creates: the umask
 * cannot be read without setting it, which would race with files created on libuv's other threads. Files whose mode
 * keeps clear of it need no chmod.
 */
let umaskBits: number | undefined;

/** Writes `bytes` as the new file at `path` with `mode` (not yet durable). */
export async function writePartial(path: string, bytes: Uint8Array, mode: number): Promise<void> {
  const learning = umaskBits === undefined;
  const fd = await createPartial(path, learning ? 0o777 : mode);
  try {
    if (learning) umaskBits = 0o777 & ~fstatSync(fd).mode;
    if (learning || (mode & umaskBits!) !== 0) fchmodSync(fd, mode);
    for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written);
  } finally {
    closeSync(fd);
  }
}

/**
 * Creates the file at `path` exclusively. A name already taken (a partial that failed its check, or anything planted
 * there) is removed first and never written through: a hard link planted there would share its bytes with a file
 * outside DEST. A folder there is refused with its plain error.
 */
async function createPartial(path: string, mode: number): Promise<number> {
  try {
    return await createNew(path, mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  try {
    unlinkSync(path);
  } catch {
    await (await openRegular(path)).close(); // throws what is there, plainly
  }
  return createNew(path, mode);
}

/** The descriptor of a new file (a bare number: no handle object to build and collect). */
function createNew(path: string, mode: number): Promise<number> {
  return new Promise((resolve, reject) => open(path, CREATE_NEW, mode, (error, fd) => (error ? reject(error) : resolve(fd))));
}
