import { closeSync, constants, fstatSync, lstatSync, openSync, unlinkSync, writeSync, type Stats } from 'node:fs';

// How the small-file path writes a partial: plain synchronous calls, made on the small-file writer's worker thread
// (small-file-writer.ts), where a create that takes long (ext4 without a journal scans past every inode freed in the
// last minute before it hands out a new one) holds up nothing else. Nothing is synced here: the pull makes every
// partial durable in one pass before anything renames it into place (lib/sync-file-system.ts).

/** Created exclusively, never through a link. */
const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Writes `bytes` as the new file at `path` with `mode`, less the umask's bits (not yet durable); throws the system's
 * error, with its code. `stat`: returns the file's stat once written (what a later rename of its folder leaves as it is).
 */
export function writePartial(path: string, bytes: Uint8Array, mode: number, stat = false): Stats | undefined {
  const fd = createPartial(path, mode);
  try {
    for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written);
    return stat ? fstatSync(fd) : undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * Creates the file at `path` exclusively. A name already taken (a partial that failed its check, or anything planted
 * there) is removed first and never written through: a hard link planted there would share its bytes with a file
 * outside DEST. A folder there is refused with its plain error (EISDIR).
 */
function createPartial(path: string, mode: number): number {
  try {
    return openSync(path, CREATE_NEW, mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  try {
    unlinkSync(path);
  } catch (error) {
    if (lstatSync(path, { throwIfNoEntry: false })?.isDirectory()) throw Object.assign(new Error(`EISDIR: ${path}`), { code: 'EISDIR', path });
    throw error;
  }
  return openSync(path, CREATE_NEW, mode);
}
