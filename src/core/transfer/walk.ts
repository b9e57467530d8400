import { lstatSync, readdirSync, type Dirent, type Stats } from 'node:fs';
import { readlink, realpath, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { NotFoundError, UsageError } from '../../lib/errors.js';
import { someOf } from '../../lib/plural.js';
import { unsafePathReason } from '../format/paths.js';
import { pathFilter, selectsEverything } from './path-filter.js';

// What a push sends: every regular file under the folder (or the one file given), in a stable order. A link to a
// regular file is followed wherever it points: the folder is the user's own choice of source (a Hugging Face cache
// snapshot is all links into ../../blobs), not a repository or a destination, which never follow links. A link to
// anything else (a folder, a FIFO, a device, nothing) is skipped and named, so a push never blocks on a FIFO.
// Every name is checked by the same rule pull applies (format/paths.ts) before anything is read or uploaded: a
// name pull would refuse fails the push, loudly, instead of becoming a version nobody can pull or being dropped.
// Folders are listed and files looked at with synchronous calls: the walk has nothing to overlap with, and 10,000
// awaited lstat calls cost three times the CPU of synchronous ones and leave the main thread idle between them
// (docs/benchmarks.md, "Ten thousand tiny files pushed").

export interface SourceFile {
  /** Relative, `/`-separated path as it will appear in the manifest. */
  path: string;
  absolute: string;
  size: number;
  mode: number;
  mtimeMs: number;
  /** Changes with every write and chmod, and cannot be set back (unlike mtime): the stat cache compares it. */
  ctimeMs: number;
  ino: number;
}

export interface WalkOptions {
  include?: string[];
  exclude?: string[];
}

export interface WalkResult {
  files: SourceFile[];
  /** Links skipped because they point at no regular file. */
  skipped: SkippedLink[];
}

export interface SkippedLink {
  path: string;
  /** What the link says, and what is there: "../x (a folder)". */
  pointsAt: string;
}

interface Entry {
  path: string;
  isLink: boolean;
}

interface Refused {
  path: string;
  reason: string;
}

const REFUSED_SHOWN = 5;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function toSource(path: string, absolute: string, info: Stats): SourceFile {
  return { path, absolute, size: Number(info.size), mode: Number(info.mode) & 0o777, mtimeMs: Number(info.mtimeMs), ctimeMs: Number(info.ctimeMs), ino: Number(info.ino) };
}


/** A directory entry's name as stored on disk, or undefined when it is not UTF-8 (no manifest can hold it). */
function entryName(entry: Dirent<Buffer>): string | undefined {
  try {
    return utf8.decode(entry.name);
  } catch {
    return undefined;
  }
}

/** Every file and link under `root` (links not followed, the top `.aim/` left out), and the names the rule refuses. */
function listTree(root: string, refused: Refused[]): Entry[] {
  const entries: Entry[] = [];
  const visit = (relative: string): void => {
    const dirents = readdirSync(relative ? join(root, relative) : root, { withFileTypes: true, encoding: 'buffer' });
    for (const dirent of dirents) {
      const name = entryName(dirent);
      const shown = name ?? dirent.name.toString('latin1'); // for the message only: such a name is refused
      const path = relative ? `${relative}/${shown}` : shown;
      if (!relative && name === '.aim' && dirent.isDirectory()) continue; // the bookkeeping of a pull into this folder
      const reason = name === undefined ? 'is not valid UTF-8' : unsafePathReason(path);
      if (reason) refused.push({ path, reason });
      else if (dirent.isDirectory()) visit(path);
      else if (dirent.isFile() || dirent.isSymbolicLink()) entries.push({ path, isLink: dirent.isSymbolicLink() });
    }
  };
  visit('');
  return entries;
}

/** The entries that --include and --exclude select (path-filter.ts: the rule pull applies too). */
function selectEntries(entries: Entry[], options: WalkOptions): Entry[] {
  if (selectsEverything(options)) return entries;
  const selected = pathFilter(options);
  return entries.filter((entry) => selected(entry.path));
}

function refuseNames(root: string, refused: Refused[]): void {
  if (refused.length === 0) return;
  const shown = someOf(refused.map(({ path, reason }) => `"${path}" ${reason}`), REFUSED_SHOWN, '; ');
  const names = refused.length === 1 ? 'a name' : `${refused.length} names`;
  throw new UsageError(`${root} holds ${names} a pull could not write: ${shown}`, {
    hint: 'rename them or move them out of the folder (names need no control characters, backslashes or overlong parts); nothing was uploaded',
  });
}

function kindOf(info: Awaited<ReturnType<typeof stat>> | undefined): string {
  if (!info) return 'nothing: a dangling link';
  if (info.isDirectory()) return 'a folder';
  if (info.isFIFO()) return 'a FIFO';
  if (info.isSocket()) return 'a socket';
  return 'a device or special file';
}

export async function walkSource(source: string, options: WalkOptions = {}): Promise<WalkResult> {
  pathFilter(options); // a bad pattern fails before anything is read
  const root = resolve(source);
  const info = await stat(root).catch(() => undefined);
  if (!info) throw new NotFoundError(`${root} does not exist`, { hint: 'check the path of the folder or file to push' });
  if (info.isFile()) {
    const reason = unsafePathReason(basename(root));
    refuseNames(root, reason ? [{ path: basename(root), reason }] : []);
    // A file given by a link (a Hugging Face cache snapshot) is read through its target, as links in a folder are.
    return { files: [toSource(basename(root), await realpath(root), info)], skipped: [] };
  }
  if (!info.isDirectory()) throw new UsageError(`${root} is neither a file nor a folder`, { hint: 'push a folder or a regular file' });

  const refused: Refused[] = [];
  const entries = listTree(root, refused);
  refuseNames(root, refused);
  const files: SourceFile[] = [];
  const skipped: SkippedLink[] = [];
  for (const { path, isLink } of selectEntries(entries, options).sort((a, b) => (a.path < b.path ? -1 : 1))) {
    const absolute = join(root, path);
    if (!isLink) {
      const link = lstatSync(absolute);
      if (link.isFile()) files.push(toSource(path, absolute, link));
      continue;
    }
    // Read through the resolved target, so the bytes hashed are those of the file whose size and inode were seen.
    const target = await realpath(absolute).catch(() => undefined);
    const targetInfo = target === undefined ? undefined : await stat(target);
    if (targetInfo?.isFile()) files.push(toSource(path, target!, targetInfo));
    else skipped.push({ path, pointsAt: `${await readlink(absolute).catch(() => '?')} (${kindOf(targetInfo)})` });
  }
  if (files.length === 0) {
    throw new NotFoundError(`no files to push under ${root}${options.include?.length ? ` matching ${options.include.join(', ')}` : ''}`, {
      hint: 'check the folder and the --include/--exclude patterns',
    });
  }
  return { files, skipped };
}
