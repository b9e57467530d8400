import { lstatSync, mkdirSync, renameSync } from 'node:fs';
import { lstat, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageError } from '../../lib/errors.js';
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

export const freshFolder = (dest: string): string => join(dest, '.aim', 'fresh');

/** Where the small file `file` is built when its top-level folder is fresh. */
export const freshPath = (root: string, file: ManifestFile): string => `${root}/${file.path}`;

/** Entries of `.aim/fresh` looked at when adopting a killed pull's files, beyond the files wanted (a bound on a hostile tree). */
const EXTRA_ENTRIES = 10_000;

/**
 * Makes `.aim/fresh` and every folder the `paths` (of small files in fresh top-level folders) need in it, and returns
 * it. Where a killed pull left `.aim/fresh`, adopts its files instead (adoptLeftovers) and returns undefined: this
 * pull then builds every small file in `.aim/partial`.
 */
export async function prepareFresh(dest: string, paths: string[], smallFiles: ManifestFile[], partials: string): Promise<string | undefined> {
  const root = freshFolder(dest);
  const found = await lstat(root).catch(() => undefined);
  if (found) {
    // Anything but a real folder there (a link to a folder elsewhere) is removed, never entered.
    if (found.isDirectory()) await adoptLeftovers(root, smallFiles, partials);
    await rm(root, { recursive: true, force: true });
    return undefined;
  }
  if (paths.length === 0) return undefined;
  await realFolder(dest, ['.aim', 'fresh'], { create: true });
  for (const folder of foldersOf(paths)) makeFolder(join(root, folder));
  return root;
}

/** Every folder the paths lie in, each after the folders it lies in. */
function foldersOf(paths: string[]): string[] {
  const folders = new Set<string>();
  for (const path of paths) {
    for (let slash = path.indexOf('/'); slash > 0; slash = path.indexOf('/', slash + 1)) folders.add(path.slice(0, slash));
  }
  return [...folders].sort((a, b) => a.length - b.length);
}

/** A new folder in `.aim/fresh`, made by this pull: anything already there (a racing process's) is refused. */
function makeFolder(folder: string): void {
  try {
    mkdirSync(folder);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    throw new StorageError(`${folder} appeared while the pull was making it`, { hint: 'make sure nothing else writes to the destination, then pull again' });
  }
}

/**
 * Moves each regular file of a killed pull's `.aim/fresh` (a real folder) that is one of `files` to its partial's
 * name, unless a partial is there already. Nothing is read through a link: folders are entered only when the listing
 * says they are folders.
 */
async function adoptLeftovers(root: string, files: ManifestFile[], partials: string): Promise<void> {
  const byPath = new Map(files.map((file) => [file.path, file]));
  for (const path of await regularFilesUnder(root, files.length + EXTRA_ENTRIES)) {
    const file = byPath.get(path);
    if (!file) continue;
    const partial = join(partials, digestHex(file.digest));
    if (await lstat(partial).catch(() => undefined)) continue;
    await rename(join(root, ...path.split('/')), partial).catch(() => undefined);
  }
}

/** The relative paths of the regular files under `root`, never through a link; at most `limit` entries looked at. */
async function regularFilesUnder(root: string, limit: number): Promise<string[]> {
  const found: string[] = [];
  const folders = [''];
  let seen = 0;
  while (folders.length > 0 && seen < limit) {
    const folder = folders.pop()!;
    const entries = await readdir(folder ? join(root, ...folder.split('/')) : root, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (++seen > limit) break;
      const path = folder ? `${folder}/${entry.name}` : entry.name;
      if (entry.isDirectory()) folders.push(path);
      else if (entry.isFile()) found.push(path);
    }
  }
  return found;
}

/** A file to put in place from a fresh folder: its top-level folder, and the final name it gets. */
export interface FreshEntry {
  freshTop?: string;
  target: string;
}

/**
 * Renames each fresh top-level folder of `entries` from `root` into DEST, where DEST still has nothing of that name.
 * Returns the entries of the folders it could not (a name DEST got during the pull): those are put in place file by
 * file, like any other.
 */
export function renameFreshFolders<T extends FreshEntry>(dest: string, root: string, entries: T[]): T[] {
  const byTop = new Map<string, T[]>();
  for (const entry of entries) {
    const group = byTop.get(entry.freshTop!);
    if (group) group.push(entry);
    else byTop.set(entry.freshTop!, [entry]);
  }
  const left: T[] = [];
  for (const [top, group] of byTop) {
    const target = join(dest, top);
    if (lstatSync(target, { throwIfNoEntry: false }) === undefined && renamedInto(join(root, top), target)) continue;
    left.push(...group);
  }
  return left;
}

/** Renames the folder; false when DEST got something at `target` first (found by the rename itself). */
function renamedInto(folder: string, target: string): boolean {
  try {
    renameSync(folder, target);
    return true;
  } catch (error) {
    if (['EEXIST', 'ENOTEMPTY', 'ENOTDIR', 'EISDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return false;
    throw error;
  }
}
