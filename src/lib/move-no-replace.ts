import { linkSync, lstatSync, renameSync, unlinkSync } from 'node:fs';

// A move that never replaces what it finds at its target. rename(2) replaces a file at its target without a word,
// and Node has no renameat2(RENAME_NOREPLACE): a second name made with link(2), which fails with EEXIST when the
// name is taken, then the first name removed, does the same in two calls. A file put at the target by someone else
// between the last look and the move is kept, and the move fails as the system call does.

/** Codes with which link(2) says the file system has no hard links (FAT, some FUSE and SMB mounts). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/**
 * Moves the file at `from` (a regular file of ours) to `to`, which must not exist; throws an EEXIST error, naming `to`
 * as its `dest`, when it does. Where the file system has no hard links, the target is looked at just before a
 * rename: the window is then that of one system call.
 */
export function moveNoReplaceSync(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch (error) {
    if (!NO_HARD_LINKS.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
    if (lstatSync(to, { throwIfNoEntry: false })) throw Object.assign(new Error(`EEXIST: file already exists, link '${from}' -> '${to}'`), { code: 'EEXIST', syscall: 'link', path: from, dest: to });
    renameSync(from, to);
    return;
  }
  unlinkSync(from);
}
