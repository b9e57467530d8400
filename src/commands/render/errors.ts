import { isAimError } from '../../lib/errors.js';

// One plain line of what and where, then a hint; the stack only under -v. Native errors that escape the edges
// (disk full while writing a pull destination, say) still get a plain line instead of a trace.

const ERRNO_MESSAGES: Record<string, [string, string]> = {
  ENOSPC: ['no space left on device', 'free some space; running the same command again resumes where it stopped'],
  EDQUOT: ['disk quota exceeded', 'free some space; running the same command again resumes where it stopped'],
  EACCES: ['permission denied', 'check the permissions of the path'],
  EPERM: ['operation not permitted', 'check the permissions of the path'],
  EROFS: ['read-only file system', 'use a writable location'],
  ENOENT: ['no such file or folder', 'check the path'],
  ENOTDIR: ['not a folder', 'check the path'],
  EISDIR: ['is a folder', 'give a file path'],
  EMFILE: ['too many open files', 'raise the limit with `ulimit -n`'],
};

export function formatError(error: unknown, verbose: number): { text: string; exitCode: number } {
  if (isAimError(error)) {
    const hint = error.hint ? `\n  hint: ${error.hint}` : '';
    const stack = verbose > 0 && error.stack ? `\n${error.stack}` : '';
    return { text: `aim: error: ${error.message}${hint}${stack}\n`, exitCode: error.exitCode };
  }
  const errno = error as NodeJS.ErrnoException;
  const known = errno?.code ? ERRNO_MESSAGES[errno.code] : undefined;
  if (known) {
    const where = errno.path ? `: ${errno.path}` : '';
    const stack = verbose > 0 && errno.stack ? `\n${errno.stack}` : '';
    return { text: `aim: error: ${known[0]}${where}\n  hint: ${known[1]}${stack}\n`, exitCode: 1 };
  }
  const message = error instanceof Error ? error.message : String(error);
  const detail = verbose > 0 && error instanceof Error ? `\n${error.stack}` : '\n  hint: run again with -v for details, and report it if it persists';
  return { text: `aim: internal error: ${message}${detail}\n`, exitCode: 70 };
}
