import { ConflictError, isAimError, NotFoundError, StorageError, UsageError } from './errors.js';
import { shownPath } from './held-folder.js';

// One translation of the file system's error codes into the plain errors the CLI prints, so that a read-only
// destination, a full disk or a name the file system cannot hold reads as one line with a hint, not as an internal
// error with a stack. Errors that are already ours, and codes nobody can act on, pass through unchanged.

export interface FsErrorContext {
  /** The path to name when the error carries none (e.g. the folder being written). */
  path: string;
  /** What the user can do when the place is not writable (differs between a repository and a destination). */
  writableHint?: string;
}

/** A plain AimError for a known file system failure at `context.path`; anything else unchanged. */
export function fsError(error: unknown, context: FsErrorContext): unknown {
  if (isAimError(error)) return error;
  const errno = error as NodeJS.ErrnoException & { dest?: string };
  // A rename fails with EISDIR for a folder at its target: the name the user must look at, not the file being moved.
  const path = shownPath((errno.syscall === 'rename' && errno.code === 'EISDIR' ? errno.dest : errno.path) ?? context.path);
  const writableHint = context.writableHint ?? 'use a folder you can write to, or fix its permissions';
  const options = { cause: error };
  switch (errno.code) {
    case 'ENOENT':
      return new NotFoundError(`${path} does not exist`, { ...options, hint: 'check the path' });
    case 'EROFS':
      return new StorageError(`cannot write ${path}: the file system is read-only`, { ...options, hint: writableHint });
    case 'EACCES':
    case 'EPERM':
      return new StorageError(`cannot write ${path}: permission denied`, { ...options, hint: writableHint });
    case 'ENOSPC':
    case 'EDQUOT':
      return new StorageError(`no space left on device: ${path}`, {
        ...options,
        hint: 'free some space, then run the same command again: it resumes where it stopped',
      });
    case 'ENAMETOOLONG':
      return new UsageError(`file name too long: ${path}`, { ...options, hint: 'use a shorter path or name: the file system holds at most 255 bytes a name' });
    case 'ELOOP':
      return new StorageError(`${path} passes through a symlink aim does not follow`, { ...options, hint: 'replace the link with a real folder or file' });
    case 'ENOTDIR':
      return new StorageError(`part of ${path} is a file, not a folder`, { ...options, hint: 'move that file away' });
    case 'EMFILE':
    case 'ENFILE':
      return new StorageError(`too many open files at ${path}`, { ...options, hint: 'raise the limit with `ulimit -n`, then run the same command again' });
    case 'EEXIST':
      // A move that takes only a free name (move-no-replace.ts) found one taken since the command last looked.
      if (errno.syscall === 'link' && errno.dest) {
        return new ConflictError(`${shownPath(errno.dest)} appeared while aim was putting files in place; it was left as it is`, {
          ...options,
          hint: 'move it away (or pass --force), then run the same command again: it resumes where it stopped',
        });
      }
      // A (recursive) mkdir finds something that is not a folder where one is wanted: `pull ... ./weights.bin`.
      if (errno.syscall !== 'mkdir') return error;
      return new StorageError(`${path} exists and is not a folder`, { ...options, hint: 'move it away, or name a folder' });
    case 'EISDIR':
      return new StorageError(`${path} is a folder where a file should be`, { ...options, hint: 'move that folder away' });
    default:
      return error;
  }
}
