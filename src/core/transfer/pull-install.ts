import { createWriteStream, lstatSync, renameSync, statSync } from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { dirname, sep } from 'node:path';
import { syncFile, tempPathFor } from '../../lib/atomic-write.js';
import { forEachConcurrently } from '../../lib/concurrently.js';
import { ConflictError } from '../../lib/errors.js';
import { withShownPaths, type HeldFolder } from '../../lib/held-folder.js';
import { openRegular } from '../../lib/safe-fs.js';
import { syncFoldersTogether } from '../../lib/sync-file-system.js';
import type { ManifestFile } from '../format/manifest.js';
import { Trash } from '../store/trash.js';
import { moveNoReplaceSync } from '../../lib/move-no-replace.js';
import { pauseForTest } from './test-pause.js';
import { expectAsSeen, type Seen } from './as-seen.js';
import type { InstallState } from './install-state.js';
import { renameFreshFolders, type FreshTree } from './pull-fresh.js';
import { fileMode } from './small-file-set.js';
import { statAt, type FileStat } from './small-file-jobs.js';
import type { SmallFileWriter } from './small-file-writer.js';
import { TargetFolders } from './target-folders.js';

// The last step of a pull: verified, synced partials renamed into place, many at a time, then the folders that got
// new names synced. A pull killed here leaves some files in place and the rest in `.aim/partial`; the next pull
// checks both and renames what is left.

/** Renames at once: each is a few metadata calls on libuv's threads, which the file system serves in parallel. */
const RENAMES_IN_FLIGHT = 32;

/**
 * What sits at a target the pull would replace, and whose it is. aim's to replace: a file still as aim installed it
 * (recorded in `.aim/state.json`, or holding the recorded bytes after a copy or a touch moved its stat), and a link,
 * FIFO or socket: they hold no bytes of their own, so replacing the name loses no data (what a link points at is
 * never touched). An empty folder holds nothing and is removed. Anything else is the user's: a file aim did not
 * write or that changed since, a folder holding anything. Like git's "untracked working tree files would be
 * overwritten", the pull replaces the user's only when forced.
 */
export type Occupant = 'aims' | 'empty-folder' | 'users-file' | 'users-folder';

/**
 * Something that is not a folder (a file, a link, a FIFO) standing where the version has a folder, `a/b` for
 * `a/b/c/x`: shared by every file below it, and moved into the trash whole before the renames. aim's only when it is a
 * file an older version installed there, unchanged; a link there is the user's way to put a folder elsewhere, and a
 * pull never silently takes it away.
 */
export interface Blocker {
  path: string;
  occupant: 'aims' | 'users-file';
  /** What it is, for the refusal: "a file", "a symlink". */
  kind: string;
  /** What the look found there, when it is aim's: a file changed since is the user's. */
  seen?: Seen;
}

export interface Staged {
  /** The verified partial, complete and synced. */
  temp: string;
  target: string;
  file: ManifestFile;
  /** What is at the target, if anything: cleared just before the rename (clearTarget). */
  occupant?: Occupant;
  /** What stands where a folder of the target's path goes, if anything: cleared before any rename (clearBlockers). */
  blockedBy?: Blocker;
  /** What the pull's last look found at the target, when it is aim's to replace (lookAgain). */
  seen?: Seen;
  /** The partial already has the file's mode. */
  modeSet: boolean;
  /** A journal may lie beside the partial (removed once it is in place). */
  journal: boolean;
  /** Built in `.aim/fresh/<freshTop>`, which is renamed into DEST whole (pull-fresh.ts). */
  freshTop?: string;
  /** A fresh file's stat as it was written, which that rename leaves as it is; otherwise it is looked at in place. */
  written?: FileStat;
}

/** Notes the file as `info` (its stat) says it is: its size, times and inode, so the next pull can trust it without re-hashing. */
export function record(next: InstallState, file: ManifestFile, info: FileStat): void {
  next.files[file.path] = { digest: file.digest, size: info.size, mtimeMs: info.mtimeMs, ctimeMs: info.ctimeMs, ino: info.ino };
}

/**
 * Moves verified partials into place (what they replace goes to the trash), records what was installed, and syncs
 * the folders that changed (`dest` among them). Nothing is moved before `durable` settles (the small files' partials
 * synced): the work before it overlaps that sync.
 */
export async function installStaged(dest: string, staged: Staged[], next: InstallState, writer: SmallFileWriter, { durable, tree, force = false, aim }: InstallOptions = {}): Promise<void> {
  const { firsts, copies, fresh } = sortStaged(staged);
  const trash = new Trash(dest);
  let folders: TargetFolders | undefined;
  try {
    await durable;
    pauseForTest('BEFORE_RENAMES');
    folders = await TargetFolders.open(dest, aim);
    const moves: Moves = { folders, next, trash, force };
    await clearBlockers(staged, moves);
    // Fresh folders go first: a big file of one of them is renamed into it afterwards.
    const left = tree && fresh.length > 0 ? renameFreshFolders(folders.root.via, tree, fresh) : fresh;
    const notPlaced = new Set(left);
    const placed = fresh.filter((entry) => !notPlaced.has(entry));
    for (const entry of placed) record(next, entry.file, entry.written ?? lstatSync(entry.target));
    await placeFirsts([...left, ...firsts.values()], moves, writer);
    await placeCopies(copies, firsts, moves);
    const freshFolders = new Set(placed.map((entry) => dirname(entry.target)));
    if (staged.length > 0) await syncFoldersTogether(withAncestors(dest, [...folders.all, ...freshFolders]));
    tree?.remove();
  } catch (error) {
    throw withShownPaths(error);
  } finally {
    await folders?.close();
    await trash.close();
  }
}

/**
 * The staged files by how they go in: the first file of each partial, the files that copy it (copies, empty files:
 * files with the same content share one partial), and those built in `.aim/fresh`.
 */
function sortStaged(staged: Staged[]): { firsts: Map<string, Staged>; copies: Staged[]; fresh: Staged[] } {
  const firsts = new Map<string, Staged>();
  const copies: Staged[] = [];
  const fresh: Staged[] = [];
  for (const entry of staged) {
    if (entry.freshTop !== undefined) fresh.push(entry);
    else if (firsts.has(entry.temp)) copies.push(entry);
    else firsts.set(entry.temp, entry);
  }
  return { firsts, copies, fresh };
}

/** What every move of one install shares. */
interface Moves {
  folders: TargetFolders;
  next: InstallState;
  trash: Trash;
  force: boolean;
}

/**
 * Moves each partial into place, a batch of folders at a time (TargetFolders): one that only needs its move (nothing at
 * its target, its mode set, no journal) on the writer's threads, the others here beside them. With --force, a file
 * that takes a free target meanwhile is moved aside here: the writer's threads only refuse it.
 */
async function placeFirsts(entries: Staged[], moves: Moves, writer: SmallFileWriter): Promise<void> {
  const { folders, next, force } = moves;
  await folders.inBatches(entries, (entry) => [dirname(entry.target)], async (batch) => {
    const plain: Staged[] = [];
    const others: Staged[] = [];
    for (const entry of batch) (entry.occupant === undefined && entry.modeSet && !entry.journal && !force ? plain : others).push(entry);
    // Both settle before the batch's folders are let go: no move is left running through a closed descriptor.
    const settled = await Promise.allSettled([
      renameOnWriter(plain, folders, next, writer),
      forEachConcurrently(others, RENAMES_IN_FLIGHT, async (entry) => {
        await putInPlace(entry, entry.temp, moves);
        if (entry.journal) await rm(`${entry.temp}.journal`, { force: true });
      }),
    ]);
    for (const result of settled) if (result.status === 'rejected') throw result.reason;
  }, () => pauseForTest('AFTER_FOLDERS'));
}

/** Puts each copy in place: the first file's move took the partial's name, so each gets a copy of that file's result. */
async function placeCopies(copies: Staged[], firsts: Map<string, Staged>, moves: Moves): Promise<void> {
  const { folders, next } = moves;
  const firstOf = (entry: Staged) => firsts.get(entry.temp)!;
  const foldersOf = (entry: Staged) => [dirname(entry.target), dirname(firstOf(entry).target)];
  await folders.inBatches(copies, foldersOf, (batch) =>
    forEachConcurrently(batch, RENAMES_IN_FLIGHT, async (entry) => {
      // Synced, under a temp name of its own.
      const copy = tempPathFor(entry.temp);
      await copyInstalled(firstOf(entry), folders.at(firstOf(entry).target), next, copy);
      await syncFile(copy);
      await putInPlace({ ...entry, modeSet: false }, copy, moves);
    }),
  );
}

/**
 * Copies the file `first` put in place (reached as `at`) to a new file at `copy`. The file is DEST's by then: it is
 * opened without following a link, and only if it is still the one the pull put there (its inode as recorded), so
 * that whatever took its name since (a link to a file outside DEST) is never copied in unverified.
 */
export async function copyInstalled(first: Staged, at: string, next: InstallState, copy: string): Promise<void> {
  const handle = await openRegular(at);
  try {
    if ((await handle.stat()).ino !== next.files[first.file.path]?.ino) {
      throw new ConflictError(`${first.target} changed while the pull was putting files in place`, { hint: 'pull again' });
    }
    await pipeline(handle.createReadStream({ start: 0, autoClose: false }), createWriteStream(copy, { flags: 'wx' }));
  } finally {
    await handle.close();
  }
}

/** Has the writer's thread rename the partials into the held folders, and records each from its stat there. */
async function renameOnWriter(entries: Staged[], folders: TargetFolders, next: InstallState, writer: SmallFileWriter): Promise<void> {
  if (entries.length === 0) return;
  const stats = await writer.install(entries.map((entry) => [entry.temp, folders.at(entry.target)]));
  for (const [index, entry] of entries.entries()) record(next, entry.file, statAt(stats, index));
}

/** The folders and every folder between them and `dest` (a folder mkdir made is a new name in its parent). */
function withAncestors(dest: string, folders: string[]): Set<string> {
  const all = new Set([dest]);
  for (let folder of folders) {
    while (folder.startsWith(dest + sep) && !all.has(folder)) {
      all.add(folder);
      folder = dirname(folder);
    }
  }
  return all;
}

export interface InstallOptions {
  /** Settles when the small files' partials are durable: nothing is renamed before. */
  durable?: Promise<void>;
  /** `.aim/fresh`, whose top-level folders are renamed into DEST whole (pull-fresh.ts). */
  tree?: FreshTree;
  /** --force: what takes a free target during the pull is moved into the trash, not refused. */
  force?: boolean;
  /** DEST/.aim, held since the pull began: the DEST files are moved into must be the folder holding it. */
  aim?: HeldFolder;
}

/**
 * The move and the stat that records it run on the main thread: each is a few microseconds in the kernel, less than
 * a round trip through libuv's threads costs the main thread, which thousands of small files keep busy. A file aim
 * replaces is renamed over; a target that was free is taken only while it still is (move-no-replace.ts). Each
 * reaches the target through its folder, held (TargetFolders).
 */
async function putInPlace(entry: Staged, temp: string, { folders, next, trash, force }: Moves): Promise<void> {
  if (!entry.modeSet) await setMode(temp, fileMode(entry.file));
  const target = folders.at(entry.target);
  expectAsSeen(target, entry.seen);
  await clearTarget(trash, entry.occupant, target);
  if (entry.occupant === 'aims' || entry.occupant === 'users-file') renameSync(temp, target);
  else await takeFreeTarget(trash, temp, target, force);
  record(next, entry.file, statSync(target));
}

/** Moves `temp` to the free `target`; what took it meanwhile is refused (EEXIST), or moved into the trash with --force. */
async function takeFreeTarget(trash: Trash, temp: string, target: string, force: boolean): Promise<void> {
  try {
    moveNoReplaceSync(temp, target);
  } catch (error) {
    if (!force || (error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    await trash.moveFolderAside(target); // a file, a link or a folder, moved as it is
    moveNoReplaceSync(temp, target);
  }
}

/**
 * Makes way for the rename at `target`. A file or link gets a second name in the trash, so the rename over it is
 * instant. An empty folder is removed (a rename cannot replace a folder): it fails if something was put in it since
 * the pull looked. A folder of the user's, reached only under --force, moves into the trash whole.
 */
async function clearTarget(trash: Trash, occupant: Occupant | undefined, target: string): Promise<void> {
  if (occupant === 'empty-folder') await rmdir(target);
  else if (occupant === 'users-folder') await trash.moveFolderAside(target);
  else if (occupant !== undefined) await trash.moveAside(target);
}

/**
 * Moves what stands where the version has folders into the trash (a rename: it takes a link or a FIFO as it is, never
 * what a link points to), so that the folders can be made; each through the folder it lies in, held. One gone
 * meanwhile is no obstacle any more; one of aim's changed meanwhile is the user's, and refused unless forced.
 */
async function clearBlockers(staged: Staged[], { folders, trash, force }: Moves): Promise<void> {
  const blockers = [...new Set(staged.map((entry) => entry.blockedBy).filter((blocker) => blocker !== undefined))];
  await folders.inBatches(blockers, (blocker) => [dirname(blocker.path)], async (batch) => {
    for (const blocker of batch) {
      const at = folders.at(blocker.path);
      if (!force) expectAsSeen(at, blocker.seen);
      await trash.moveFolderAside(at).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    }
  });
}

/** Sets the mode of the partial at `path` through an open handle: never through a link planted at its name. */
async function setMode(path: string, mode: number): Promise<void> {
  const handle = await openRegular(path);
  try {
    await handle.chmod(mode);
  } finally {
    await handle.close();
  }
}
