import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { link, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { HeldFolder } from '../../lib/held-folder.js';
import { realFolder } from '../../lib/safe-fs.js';

// Files an update replaces or drops are not freed inside the pull: freeing a multi-GB file can take seconds (ext4
// mounted with online discard), and the new version is ready before that. They get a second
// name in DEST/.aim/trash first, so the rename over them (or their removal) is instant, and a detached process
// deletes that folder after aim exits, as `git gc --auto` works in the background. A pull killed in between leaves
// only trash, which the next pull deletes. The trash is a real folder inside DEST/.aim or it is not used: a link
// there would take the second names, and the deletion, somewhere else.

export const trashFolder = (dest: string): string => join(dest, '.aim', 'trash');

/**
 * DEST's trash for one command's moves: made and checked once, then held open (lib/held-folder.ts), so that each move
 * is one system call into the folder that was checked, wherever its path leads by then. Closed once the moves are done.
 */
export class Trash {
  private held?: Promise<HeldFolder>;

  constructor(private readonly dest: string) {}

  /** Gives `path` a name in the trash, if it exists; false when the file system refuses (then it is freed inline). */
  async moveAside(path: string): Promise<boolean> {
    try {
      // link(2) names `path` itself, a link included, never what a link there points at.
      await link(path, (await this.folder()).at(randomName()));
      return true;
    } catch {
      return false; // absent, no hard links here (some network and FUSE file systems), or no real trash folder
    }
  }

  /**
   * Moves the folder at `path` into the trash whole (a rename: a folder cannot take a second name), or whatever else
   * is there as it is (a link itself, never what it points at).
   */
  async moveFolderAside(path: string): Promise<void> {
    await rename(path, (await this.folder()).at(randomName()));
  }

  async close(): Promise<void> {
    const held = this.held;
    this.held = undefined;
    (await held?.catch(() => undefined))?.close();
  }

  private folder(): Promise<HeldFolder> {
    this.held ??= realFolder(this.dest, ['.aim', 'trash'], { create: true }).then(() => HeldFolder.open(this.dest, ['.aim', 'trash']));
    return this.held;
  }
}

const randomName = (): string => randomBytes(8).toString('hex');

/**
 * What the detached process runs: it deletes every entry of the folder it is given as its descriptor 3 (Linux), or,
 * where there is no /proc, of the folder at the path it is given; then the folder itself by its path, only while that
 * path still leads to it (rmdir takes nothing but an empty folder in any case).
 */
const EMPTY_FOLDER = [
  'const fs = require("node:fs");',
  'const [at, path] = process.argv.slice(1);',
  'for (const name of fs.readdirSync(at)) fs.rmSync(`${at}/${name}`, { recursive: true, force: true });',
  'const held = fs.statSync(at), now = fs.lstatSync(path);',
  'if (held.dev === now.dev && held.ino === now.ino) fs.rmdirSync(path);',
].join(' ');

/**
 * Deletes what the trash holds in a detached process that outlives this one; nothing to do when it is empty. The
 * process gets the trash folder itself, held open here, not its path: a folder on the way (DEST/.aim) swapped for a
 * link before it runs cannot take the deletion somewhere else.
 */
export async function emptyTrashInBackground(dest: string): Promise<void> {
  let trash: HeldFolder;
  try {
    trash = HeldFolder.open(dest, ['.aim', 'trash']);
  } catch {
    return; // none, or not a real folder aim made: left alone
  }
  try {
    const entries = await readdir(trash.via).catch(() => []);
    if (entries.length === 0) return;
    const viaProc = trash.via !== trash.path;
    const child = spawn(process.execPath, ['-e', EMPTY_FOLDER, viaProc ? '/proc/self/fd/3' : trash.path, trash.path], {
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', viaProc ? trash.fd : 'ignore'],
      windowsHide: true,
    });
    child.on('error', () => undefined); // could not start: the next pull deletes the trash instead
    child.unref();
  } finally {
    trash.close();
  }
}
