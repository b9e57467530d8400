import { EXIT_CODES, isAimError } from '../../lib/errors.js';
import { terminalLine, terminalText } from './terminal.js';

// One plain line of what and where, then a hint; the stack only under -v. Messages often quote what a repository or
// a server said, so each part is escaped for the terminal and kept to its one line. Native errors that escape the edges
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
  ENAMETOOLONG: ['file name too long', 'use a shorter path'],
  ELOOP: ['too many levels of symbolic links', 'check the links along the path'],
};

export function formatError(error: unknown, verbose: number): { text: string; exitCode: number } {
  if (isAimError(error)) {
    const hint = error.hint ? `\n  hint: ${hintText(error.hint)}` : '';
    return { text: `aim: error: ${terminalLine(error.message)}${hint}${stackOf(error, verbose)}\n`, exitCode: error.exitCode };
  }
  const errno = error as NodeJS.ErrnoException;
  const known = errno?.code ? ERRNO_MESSAGES[errno.code] : undefined;
  if (known) {
    const where = errno.path ? `: ${terminalLine(errno.path)}` : '';
    return { text: `aim: error: ${known[0]}${where}\n  hint: ${known[1]}${stackOf(errno, verbose)}\n`, exitCode: EXIT_CODES.storage };
  }
  const message = error instanceof Error ? error.message : String(error);
  const detail = verbose > 0 && error instanceof Error ? stackOf(error, verbose) : '\n  hint: run again with -v for details, and report it if it persists';
  return { text: `aim: internal error: ${terminalLine(message)}${detail}\n`, exitCode: 70 };
}

/**
 * A hint may span lines (an engine's log tail), but every line after the first is indented, so nothing in it can
 * pass for a line of aim's own (`aim: error: ...`).
 */
function hintText(hint: string): string {
  return terminalText(hint)
    .split('\n')
    .map((line, index) => (index === 0 || /^\s/.test(line) ? line : `    ${line}`))
    .join('\n');
}

function stackOf(error: Error, verbose: number): string {
  return verbose > 0 && error.stack ? `\n${terminalText(error.stack)}` : '';
}

/** A problem that did not stop the command (one bad model among many): one line on stderr. */
export function formatWarning(message: string): string {
  return `aim: warning: ${terminalLine(message)}\n`;
}
