import { lstatSync, type Stats } from 'node:fs';
import { ConflictError } from '../../lib/errors.js';
import { shownPath } from '../../lib/held-folder.js';

// What a pull's last look at DEST found where it replaces something of aim's (a file at a target, or one where the
// version now has a folder), checked again just before the move: the sync of the partials and the copies after that
// look may take long, and a file the user edited or saved anew meanwhile is theirs, not aim's to put in the trash.

/**
 * Enough of a file's lstat to tell it changed: a write moves its mtime, a file saved anew under its name has another
 * inode. Not its ctime, which another name of the same file (a hard link a dedupe tool made) moves when aim replaces
 * that one.
 */
export interface Seen {
  ino: number;
  size: number;
  mtimeMs: number;
}

export const seenOf = ({ ino, size, mtimeMs }: Stats): Seen => ({ ino, size, mtimeMs });

/**
 * Refuses, exit 5, when what is at `path` (through a held folder, or not) is no longer what the look `seen`; gone
 * since is fine, and nothing seen is.
 */
export function expectAsSeen(path: string, seen: Seen | undefined): void {
  const now = seen && lstatSync(path, { throwIfNoEntry: false });
  if (!now || (now.ino === seen!.ino && now.size === seen!.size && now.mtimeMs === seen!.mtimeMs)) return;
  throw new ConflictError(`${shownPath(path)} changed while aim was putting files in place; it was left as it is`, {
    hint: 'move it away (or pass --force), then run the same command again: it resumes where it stopped',
  });
}
