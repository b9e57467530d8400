// The embedded server's log: the server writes its lines to the file its stdout and stderr already point at (the
// parent opened it in append mode, so a native abort's last words land there too), and keeps that file under a
// size bound by copy-and-truncate, keeping one previous file beside it. Truncating in place rather than renaming
// keeps every descriptor on the same file: stdout, stderr and our writes all continue at its new end.
import { closeSync, constants, fstatSync, ftruncateSync, lstatSync, openSync, readSync, renameSync, writeSync } from 'node:fs';

export interface ServerLogOptions {
  /** The log file's path, for the copy kept beside it (`<path>.1`). */
  path: string;
  /** A descriptor open on that file in append mode. */
  fd: number;
  /** Size past which the file is rotated. */
  maxBytes: number;
}

export type ServerLog = (message: string) => void;

function copyPrevious(path: string, size: number): void {
  // The file at `path` is ours, but check it is still a plain file before reading it (it lives in AIM_HOME).
  if (!lstatSync(path).isFile()) return;
  const temp = `${path}.1.${process.pid}.tmp`;
  const source = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  const target = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    const buffer = Buffer.alloc(Math.min(size, 1 << 20));
    for (let position = 0; position < size;) {
      const read = readSync(source, buffer, 0, Math.min(buffer.length, size - position), position);
      if (read === 0) break;
      writeSync(target, buffer, 0, read);
      position += read;
    }
  } finally {
    closeSync(source);
    closeSync(target);
  }
  // rename replaces whatever `<path>.1` is (a planted link included) without following it.
  renameSync(temp, `${path}.1`);
}

export function createServerLog(options: ServerLogOptions): ServerLog {
  return (message: string) => {
    writeSync(options.fd, `${new Date().toISOString()} ${message}\n`);
    const { size } = fstatSync(options.fd);
    if (size <= options.maxBytes) return;
    try {
      copyPrevious(options.path, size);
    } catch {
      // Without a copy the old lines are lost, but the bound on the disk holds: truncating matters more.
    }
    ftruncateSync(options.fd, 0);
  };
}
