import { randomBytes } from 'node:crypto';
import { lstatSync, readdirSync, renameSync, rmdirSync, rmSync, unlinkSync } from 'node:fs';
import { lstat, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageError } from '../../lib/errors.js';
import { changed, HeldFolder } from '../../lib/held-folder.js';
import { realFolder } from '../../lib/safe-fs.js';
import { digestHex } from '../format/digest.js';
import type { ManifestFile } from '../format/manifest.js';

// A top-level folder of the version that DEST does not have yet (every folder, in a new destination) has its small
// files built in place in `.aim/fresh/<folder>/...`, and the folder is renamed into DEST once they are all verified
// and durable: one rename for the folder instead of a rename and a stat for each file, which were most of what a
// pull of thousands of small files did after writing them (docs/benchmarks.md). Until that rename nothing under
// DEST's final names changes, as for any other file; a folder DEST got meanwhile is filled file by file instead.
//
// A pull killed before the rename leaves the folder in `.aim/fresh`. The next pull does not build there: each file
// of it that is one of that pull's small files moves to its partial's name in `.aim/partial`, where the usual check
// of leftovers (size and digest) keeps or replaces it, and the rest is deleted.
//
// Every folder of `.aim/fresh` is held open while the pull uses it (lib/held-folder.ts): files are made in the folder
// the pull made, whatever its path leads to by then, and a top-level folder is renamed into DEST only if the name
// still holds that folder, and kept only if what arrived is it: a link put in its place would otherwise be renamed
// into DEST as it is, and DEST's files would be whatever the link points to. A folder of the tree costs one open and
// one descriptor while the pull runs; a version spread over more folders than MAX_HELD_FOLDERS is built in
// `.aim/partial` instead.

export const freshFolder = (dest: string): string => join(dest, '.aim', 'fresh');

/** Entries of `.aim/fresh` looked at when adopting a killed pull's files, beyond the files wanted (a bound on a hostile tree). */
const EXTRA_ENTRIES = 10_000;
/** Folders of `.aim/fresh` one pull holds open at most (a descriptor each). */
const MAX_HELD_FOLDERS = 1000;

/** `.aim/fresh` and every folder this pull made in it, each held open (keyed by its path under `.aim/fresh`, '' the root). */
export class FreshTree {
  constructor(private readonly folders: Map<string, HeldFolder>) {}

  get root(): HeldFolder {
    return this.folders.get('')!;
  }

  /** Where the small file `file` is built, through the folder it lies in. */
  pathOf(file: ManifestFile): string {
    const slash = file.path.lastIndexOf('/');
    return this.folders.get(file.path.slice(0, Math.max(slash, 0)))!.at(file.path.slice(slash + 1));
  }

  /** The top-level folder `top`, held. */
  top(top: string): HeldFolder {
    return this.folders.get(top)!;
  }

  /** Removes what is left of `.aim/fresh` (its folders renamed away or not), then lets go of every folder. */
  remove(): void {
    try {
      emptyHeld(this.root);
      if (this.root.isAt(this.root.path)) rmdirSync(this.root.path);
    } finally {
      this.close();
    }
  }

  close(): void {
    for (const folder of this.folders.values()) folder.close();
    this.folders.clear();
  }
}

/**
 * Makes `.aim/fresh` and every folder the `paths` (of small files in fresh top-level folders) need in it, and returns
 * them, held. Where a killed pull left `.aim/fresh`, adopts its files instead (adoptLeftovers) and returns undefined:
 * this pull then builds every small file in `.aim/partial`, as it does for a version spread over too many folders.
 */
export async function prepareFresh(dest: string, paths: string[], smallFiles: ManifestFile[], partials: HeldFolder): Promise<FreshTree | undefined> {
  const root = freshFolder(dest);
  const found = await lstat(root).catch(() => undefined);
  if (found) {
    // Anything but a real folder there (a link to a folder elsewhere) is removed, never entered.
    if (!found.isDirectory()) await rm(root, { force: true });
    else await adoptAndRemove(dest, smallFiles, partials);
    return undefined;
  }
  const folders = foldersOf(paths);
  if (paths.length === 0 || folders.length >= MAX_HELD_FOLDERS) return undefined;
  await realFolder(dest, ['.aim', 'fresh'], { create: true });
  const tree = new Map([['', HeldFolder.open(dest, ['.aim', 'fresh'])]]);
  try {
    for (const folder of folders) tree.set(folder, makeFolder(tree, folder));
  } catch (error) {
    new FreshTree(tree).close();
    throw error;
  }
  return new FreshTree(tree);
}

/** A killed pull's `.aim/fresh`: its files adopted (adoptLeftovers), then the rest removed, all through the folder held. */
async function adoptAndRemove(dest: string, smallFiles: ManifestFile[], partials: HeldFolder): Promise<void> {
  const root = HeldFolder.open(dest, ['.aim', 'fresh']);
  try {
    await adoptLeftovers(root, smallFiles, partials);
    emptyHeld(root);
    if (root.isAt(root.path)) rmdirSync(root.path);
  } finally {
    root.close();
  }
}

/** Removes everything in the held folder, each entry reached through it: rm never follows a link. */
function emptyHeld(folder: HeldFolder): void {
  for (const name of readdirSync(folder.via)) rmSync(folder.at(name), { recursive: true, force: true });
}

/** Every folder the paths lie in, each after the folders it lies in. */
function foldersOf(paths: string[]): string[] {
  const folders = new Set<string>();
  for (const path of paths) {
    for (let slash = path.indexOf('/'); slash > 0; slash = path.indexOf('/', slash + 1)) folders.add(path.slice(0, slash));
  }
  return [...folders].sort((a, b) => a.length - b.length);
}

/** A new folder in `.aim/fresh` (its parent made and held before it), made by this pull: anything already there (a racing process's) is refused. */
function makeFolder(tree: Map<string, HeldFolder>, folder: string): HeldFolder {
  const slash = folder.lastIndexOf('/');
  const parent = tree.get(folder.slice(0, Math.max(slash, 0)))!;
  try {
    return parent.child(folder.slice(slash + 1), true);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    throw new StorageError(`${join(parent.path, folder.slice(slash + 1))} appeared while the pull was making it`, { hint: 'make sure nothing else writes to the destination, then pull again' });
  }
}

/**
 * Moves each regular file of a killed pull's `.aim/fresh` (held as `root`) that is one of `files` to its partial's
 * name, unless a partial is there already. Nothing is read through a link: folders are entered only when the listing
 * says they are folders, each opened through the one above it without following a link at its name.
 */
async function adoptLeftovers(root: HeldFolder, files: ManifestFile[], partials: HeldFolder): Promise<void> {
  const byPath = new Map(files.map((file) => [file.path, file]));
  let budget = files.length + EXTRA_ENTRIES;
  const visit = async (folder: HeldFolder, under: string): Promise<void> => {
    const entries = await readdir(folder.via, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (--budget < 0) return;
      const path = under ? `${under}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await visitChild(folder, entry.name, path);
      const file = entry.isFile() ? byPath.get(path) : undefined;
      if (!file) continue;
      const partial = partials.at(digestHex(file.digest));
      if (await lstat(partial).catch(() => undefined)) continue;
      await rename(folder.at(entry.name), partial).catch(() => undefined);
    }
  };
  const visitChild = async (parent: HeldFolder, name: string, path: string): Promise<void> => {
    let child: HeldFolder;
    try {
      child = parent.child(name);
    } catch {
      return; // no longer a folder: nothing of it is adopted
    }
    try {
      await visit(child, path);
    } finally {
      child.close();
    }
  };
  await visit(root, '');
}

/** A file to put in place from a fresh folder: its top-level folder, and the final name it gets. */
export interface FreshEntry {
  freshTop?: string;
  target: string;
}

/**
 * Renames each fresh top-level folder of `entries` from `tree` into DEST, where DEST still has nothing of that name.
 * Returns the entries of the folders it could not (a name DEST got during the pull): those are put in place file by
 * file, like any other.
 */
export function renameFreshFolders<T extends FreshEntry>(dest: string, tree: FreshTree, entries: T[]): T[] {
  const byTop = new Map<string, T[]>();
  for (const entry of entries) {
    const group = byTop.get(entry.freshTop!);
    if (group) group.push(entry);
    else byTop.set(entry.freshTop!, [entry]);
  }
  const left: T[] = [];
  for (const [top, group] of byTop) {
    const target = join(dest, top);
    if (lstatSync(target, { throwIfNoEntry: false }) === undefined && renamedInto(tree, top, target)) continue;
    left.push(...group);
  }
  return left;
}

/**
 * Renames the folder `top` of the tree to `target`; false when DEST got something at `target` first (found by the
 * rename itself). The name in `.aim/fresh` must hold the folder the pull made and filled, before the rename and at
 * `target` after it: whatever took its place (a link, someone's folder) is renamed back out of DEST and refused.
 */
function renamedInto(tree: FreshTree, top: string, target: string): boolean {
  const folder = tree.top(top);
  if (!folder.isAt(tree.root.at(top))) throw changed(folder.path);
  try {
    renameSync(tree.root.at(top), target);
  } catch (error) {
    if (['EEXIST', 'ENOTEMPTY', 'ENOTDIR', 'EISDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return false;
    throw error;
  }
  if (!folder.isAt(target)) {
    // Whatever took the folder's name leaves DEST's final names again: a link is removed, anything else moved back.
    if (lstatSync(target).isSymbolicLink()) unlinkSync(target);
    else renameSync(target, tree.root.at(`${top}.${randomBytes(6).toString('hex')}.replaced`));
    throw changed(folder.path);
  }
  return true;
}
