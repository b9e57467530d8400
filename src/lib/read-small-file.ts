// Reading back a small file that anyone could have replaced: a record, a ready file, a piece of local state. Only a
// regular file is read (a FIFO would block forever, a device could be endless, a symlink could point anywhere), and
// only up to a size the caller names, so a planted file can neither hang a command nor make it allocate gigabytes.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

export type SmallFileProblem = 'missing' | 'not a regular file' | 'too large';

export class SmallFileError extends Error {
  constructor(readonly path: string, readonly problem: SmallFileProblem, readonly limit: number) {
    super(`${path}: ${problem === 'too large' ? `larger than ${limit} bytes` : problem}`);
  }
}

/**
 * The bytes of the regular file at `path`, at most `maxBytes` of them; throws SmallFileError when it is missing, a
 * link, a FIFO, a device or a folder, or larger than `maxBytes`. O_NONBLOCK keeps the open itself from waiting on a
 * FIFO's writer; O_NOFOLLOW refuses a symlink in the last component.
 */
export async function readSmallFile(path: string, maxBytes: number): Promise<Buffer> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new SmallFileError(path, 'missing', maxBytes);
    if (code === 'ELOOP' || code === 'ENXIO' || code === 'EISDIR') throw new SmallFileError(path, 'not a regular file', maxBytes);
    throw error;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new SmallFileError(path, 'not a regular file', maxBytes);
    if (stat.size > maxBytes) throw new SmallFileError(path, 'too large', maxBytes);
    // Read one byte past the limit: a file that grew after the stat is caught too.
    const buffer = Buffer.alloc(maxBytes + 1);
    let filled = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
      if (filled > maxBytes) throw new SmallFileError(path, 'too large', maxBytes);
    }
    return buffer.subarray(0, filled);
  } finally {
    await handle.close();
  }
}
