import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { link, lstat, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { realFolder } from '../../lib/safe-fs.js';

// Files an update replaces or drops are not freed inside the pull: freeing a multi-GB file can take seconds (ext4
// mounted with online discard), and the new version is ready before that. They get a second
// name in DEST/.aim/trash first, so the rename over them (or their removal) is instant, and a detached process
// deletes that folder after aim exits, as `git gc --auto` works in the background. A pull killed in between leaves
// only trash, which the next pull deletes. The trash is a real folder inside DEST/.aim or it is not used: a link
// there would take the second names, and the deletion, somewhere else.

export const trashFolder = (dest: string): string => join(dest, '.aim', 'trash');

/** Gives `path` a name in the trash, if it exists; false when the file system refuses (then it is freed inline). */
export async function moveAside(dest: string, path: string): Promise<boolean> {
  try {
    const folder = await realFolder(dest, ['.aim', 'trash'], { create: true });
    // link(2) names `path` itself, a link included, never what a link there points at.
    await link(path, join(folder, randomBytes(8).toString('hex')));
    return true;
  } catch {
    return false; // absent, no hard links here (some network and FUSE file systems), or no real trash folder
  }
}

/** Moves the folder at `path` into the trash whole (a rename: a folder cannot take a second name). */
export async function moveFolderAside(dest: string, path: string): Promise<void> {
  const folder = await realFolder(dest, ['.aim', 'trash'], { create: true });
  await rename(path, join(folder, randomBytes(8).toString('hex')));
}

/** Deletes the trash in a detached process that outlives this one; nothing to do when it is empty. */
export async function emptyTrashInBackground(dest: string): Promise<void> {
  const folder = trashFolder(dest);
  const info = await lstat(folder).catch(() => undefined);
  if (!info?.isDirectory()) return; // none, or not one aim made: left alone
  const entries = await readdir(folder).catch(() => []);
  if (entries.length === 0) return;
  const script = 'require("node:fs").rmSync(process.argv[1], { recursive: true, force: true })';
  const child = spawn(process.execPath, ['-e', script, folder], { detached: true, stdio: 'ignore', windowsHide: true });
  child.on('error', () => undefined); // could not start: the next pull deletes the trash instead
  child.unref();
}
