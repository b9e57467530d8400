import { lstatSync, rmSync, type Stats } from 'node:fs';
import { lstat, readdir, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, relative, resolve, sep } from 'node:path';
import { isTempName } from '../../lib/atomic-write.js';
import { HeldFolder, withShownPaths } from '../../lib/held-folder.js';
import { onLocalDisk } from '../../lib/local-disk.js';
import { forEachConcurrently } from '../../lib/concurrently.js';
import { realFolder } from '../../lib/safe-fs.js';
import type { Manifest } from '../format/manifest.js';
import { pauseForTest } from './test-pause.js';
import { Trash } from '../store/trash.js';
import { lockDestination, type DestinationLock, type LockOptions } from './dest-lock.js';
import { isUnchanged, partialFolder, stateFolder, Targets, type InstallState } from './install-state.js';

// What a pull does to DEST around the files it installs: holds DEST/.aim while it runs, and tidies up after itself
// (temp files of a killed pull, the files a new version drops, the empty `.aim` of a refused pull).

/** DEST/.aim and its `.aim/partial`, held open by a pull: every name in them is reached through them. */
export interface HeldState {
  aim: HeldFolder;
  partials: HeldFolder;
  /** DEST's lock (dest-lock.ts), taken before anything in `.aim` is touched. */
  lock: DestinationLock;
}

/**
 * Makes DEST and its `.aim`, takes DEST's lock unless the caller holds it (waiting for another command writing
 * DEST), then makes `.aim/partial`; each folder of `.aim` a real one (a link there is refused, not followed), both
 * held open, checked from `within` (every folder from there down) or else from DEST.
 */
export async function prepareDestination(dest: string, within: string | undefined, { callersLock, onWait }: { callersLock?: DestinationLock; onWait?: LockOptions['onWait'] } = {}): Promise<HeldState> {
  const root = within === undefined ? dest : resolve(within);
  const below = relative(root, dest).split(sep).filter(Boolean);
  // A lock the caller took is the caller's to let go of, after what it does once the pull is done.
  const lock = callersLock ? { release: () => undefined } : await lockDestination(root, [...below, '.aim'], { onWait });
  let aim: HeldFolder | undefined;
  try {
    await realFolder(dest, ['.aim', 'partial'], { create: true });
    aim = HeldFolder.open(root, [...below, '.aim']);
    return { aim, partials: aim.child('partial'), lock };
  } catch (error) {
    aim?.close();
    lock.release();
    throw error;
  }
}

/**
 * Temp files a killed pull left in `.aim/partial` (a journal update cut short). Only those older than this pull:
 * a newer one belongs to a pull running beside this one.
 */
export async function removeStaleTemps(folder: HeldFolder, startedAt: number): Promise<void> {
  const names = await readdir(folder.via).catch(() => [] as string[]);
  for (const name of names.filter(isTempName)) {
    const path = folder.at(name);
    const info = await stat(path).catch(() => undefined);
    if (info && info.mtimeMs < performance.timeOrigin + startedAt) await rm(path, { force: true });
  }
}

/** Leftovers in `.aim/partial` looked at at once (one lstat each). */
const LOOKS_IN_FLIGHT = 32;

/**
 * Partials with a second name: a pull killed between the link and the unlink of a move (move-no-replace.ts) left each
 * in place under its final name too. Only the name in `.aim/partial` is removed, so that no pull writes through it
 * into a file in place (which may be the user's by then) or installs that file a second time; and before the pull
 * looks at DEST, since the removal moves the file's ctime, which the pull records.
 */
export async function removeSecondNames(folder: HeldFolder): Promise<void> {
  const names = await readdir(folder.via).catch(() => [] as string[]);
  if (names.length === 0) return;
  const hasSecondName = (info: Stats | undefined) => info?.isFile() === true && info.nlink > 1;
  if (await onLocalDisk(folder.via)) {
    // Thousands of leftovers after a killed pull: one synchronous look each costs a tenth of an asynchronous one.
    for (const name of names) if (hasSecondName(lstatOrNothing(folder.at(name)))) rmSync(folder.at(name), { force: true });
    return;
  }
  await forEachConcurrently(names, LOOKS_IN_FLIGHT, async (name) => {
    if (hasSecondName(await lstat(folder.at(name)).catch(() => undefined))) await rm(folder.at(name), { force: true });
  });
}

/** The lstat of `path`, or undefined when it cannot be had (gone meanwhile, or any other failure), as the asynchronous look. */
function lstatOrNothing(path: string): Stats | undefined {
  try {
    return lstatSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/**
 * Lets go of DEST. With `removeEmpty`, DEST/.aim/partial and DEST/.aim (and DEST, when the pull made it) go too, each
 * only if empty: what a pull keeps for its resume is never removed. `.aim/partial` goes while the lock is still held
 * (the command that takes it next may be filling it); `.aim` and DEST after, as the next one makes them again.
 */
export async function releaseDestination(held: HeldState, dest: string, removeEmpty?: { destToo: boolean }): Promise<void> {
  held.partials.close();
  held.aim.close();
  if (removeEmpty) await rmdir(partialFolder(dest)).catch(() => undefined);
  held.lock.release();
  if (!removeEmpty) return;
  await rmdir(stateFolder(dest)).catch(() => undefined);
  if (removeEmpty.destToo) await rmdir(dest).catch(() => undefined);
}

/**
 * Files of the previously installed version that the new one lacks, removed only if nobody changed them. Each folder
 * holding some is checked (every folder on the way a real one), then held (lib/held-folder.ts) while its files are
 * looked at and removed: a folder swapped for a link in between takes no removal outside DEST.
 */
export async function removeDroppedFiles(dest: string, previous: InstallState, manifest: Manifest): Promise<void> {
  const wanted = new Set(manifest.files.map((file) => file.path));
  const dropped = Object.keys(previous.files).filter((path) => !wanted.has(path));
  if (dropped.length === 0) return;
  const trash = new Trash(dest);
  let paused = false;
  try {
    for (const [folder, files] of await byRealFolder(dest, dropped)) {
      let held: HeldFolder;
      try {
        held = HeldFolder.open(dest, relative(dest, folder).split(sep).filter(Boolean));
      } catch {
        continue; // gone, or no longer a real folder since the look: nothing in it is removed
      }
      try {
        for (const { path, name } of files) {
          const at = held.at(name);
          if (!(await isUnchanged(at, previous.files[path], previous.files[path]!.digest))) continue;
          if (!paused) pauseForTest('BEFORE_REMOVALS');
          paused = true;
          await trash.moveAside(at);
          await removeFile(at);
        }
      } catch (error) {
        // Named by the user's paths while the folder is held: its /proc/self/fd/N means nothing once let go.
        throw withShownPaths(error);
      } finally {
        held.close();
      }
    }
  } finally {
    await trash.close();
  }
}

/** Removes the file at `at`: one gone since is fine, and a folder put in its place since is the user's, and kept. */
async function removeFile(at: string): Promise<void> {
  try {
    await unlink(at);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    // Linux says EISDIR, others EPERM: what stands there decides.
    if ((await lstat(at).catch(() => undefined))?.isDirectory()) return;
    throw error;
  }
}

/**
 * The `paths` (of files in DEST) whose every folder on the way is a real one, each with its name in its folder, by that
 * folder (its absolute path).
 */
async function byRealFolder(dest: string, paths: string[]): Promise<Map<string, Array<{ path: string; name: string }>>> {
  const targets = new Targets(dest);
  const byFolder = new Map<string, Array<{ path: string; name: string }>>();
  for (const path of paths) {
    // A path that leads out of DEST (a hostile state file's) is refused by resolve: passed over.
    const found = await targets.resolve(path).catch(() => undefined);
    if (!found || found.blockedBy !== undefined || found.folderMissing) continue;
    const folder = dirname(found.target);
    const file = { path, name: basename(found.target) };
    const files = byFolder.get(folder);
    if (files) files.push(file);
    else byFolder.set(folder, [file]);
  }
  return byFolder;
}
