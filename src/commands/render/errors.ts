import { EXIT_CODES, isAimError } from '../../lib/errors.js';
import { fsError } from '../../lib/fs-errors.js';
import { hintText, terminalLine, terminalText } from '../../lib/terminal-text.js';

// One plain line of what and where, then a hint; the stack only under -v. Messages often quote what a repository or
// a server said, so each part is escaped for the terminal and kept to its one line. Native errors that escape the edges
// (disk full while writing a pull destination, say) still get a plain line instead of a trace.

// EX_SOFTWARE: a bug in aim, never a user's mistake.
const INTERNAL_EXIT_CODE = 70;

export function formatError(thrown: unknown, verbose: number): { text: string; exitCode: number } {
  const error = plainFsError(thrown);
  if (isAimError(error)) {
    const hint = error.hint ? `\n  hint: ${hintText(error.hint)}` : '';
    return { text: `aim: error: ${terminalLine(error.message)}${hint}${stackOf(error, verbose)}\n`, exitCode: error.exitCode };
  }
  const message = error instanceof Error ? error.message : String(error);
  const detail = verbose > 0 && error instanceof Error ? stackOf(error, verbose) : '\n  hint: run again with -v for details, and report it if it persists';
  return { text: `aim: internal error: ${terminalLine(message)}${detail}\n`, exitCode: INTERNAL_EXIT_CODE };
}

/** Each exit code's stable name in `--json` errors: `notFound` (3) is `not_found`; 70 is `internal`. */
function errorCodeName(exitCode: number): string {
  const name = Object.entries(EXIT_CODES).find(([, code]) => code === exitCode)?.[0] ?? 'internal';
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

export interface ErrorDocument {
  error: { code: string; exitCode: number; message: string; hint?: string };
}

/**
 * The failure as the one document `--json` prints on stdout: a stable code a script can switch on, the exit code,
 * and the same message and hint a person reads on stderr.
 */
export function errorDocument(thrown: unknown): ErrorDocument {
  const error = plainFsError(thrown);
  if (isAimError(error)) {
    return { error: { code: errorCodeName(error.exitCode), exitCode: error.exitCode, message: error.message, ...(error.hint ? { hint: error.hint } : {}) } };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { error: { code: 'internal', exitCode: INTERNAL_EXIT_CODE, message, hint: 'run again with -v for details, and report it if it persists' } };
}

/** A file system error that escaped the edges (disk full while writing a pull destination, say), as lib/fs-errors words it. */
function plainFsError(error: unknown): unknown {
  const errno = error as NodeJS.ErrnoException | undefined;
  return errno?.code ? fsError(error, { path: errno.path ?? 'a file aim was using' }) : error;
}

function stackOf(error: Error, verbose: number): string {
  return verbose > 0 && error.stack ? `\n${terminalText(error.stack)}` : '';
}

/** A problem that did not stop the command (one bad model among many): one line on stderr. */
export function formatWarning(message: string): string {
  return `aim: warning: ${terminalLine(message)}\n`;
}

/** Warnings shown one per line: a place holding a million broken files gets a few lines and one count, not a flood. */
export const MAX_WARNINGS_SHOWN = 20;

export function formatWarnings(messages: string[], rest: (count: number) => string): string {
  const shown = messages.slice(0, MAX_WARNINGS_SHOWN).map(formatWarning);
  const more = messages.length - MAX_WARNINGS_SHOWN;
  return shown.join('') + (more > 0 ? formatWarning(rest(more)) : '');
}
