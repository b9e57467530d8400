import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { ConflictError } from './errors.js';

// A folder held open, so that the files in it are reached through the folder itself and not through its path. Node
// has no openat(2): every call takes a path, and the kernel walks it again each time, so a folder on the way swapped
// for a link after aim checked it (DEST/.aim/partial, say, by anyone who can write DEST) would take the next create,
// rename or delete to wherever the link points. On Linux `/proc/self/fd/N/name` is openat(N, "name"): the kernel
// starts from the open folder N and never looks at the path it was opened by again. So a folder is opened once
// (O_DIRECTORY | O_NOFOLLOW), checked once (its fd's own path, as the kernel reports it, must be the one expected:
// a link anywhere on the way at the moment of the open shows as another path), and then every name in it is reached
// through its fd: one check a folder, not a file.
//
// Where there is no /proc (macOS), names go through the path, and the check made right after the open (the folder
// at the path is the one held: same device and inode, every folder on the way a real one) is the best Node allows;
// a swap after it is still followed.

const OPEN_FOLDER = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const FD_PREFIX = '/proc/self/fd/';

/** Paths as the user knows them, of each folder held through /proc: for messages. */
const shownByFd = new Map<number, string>();

export class HeldFolder {
  private constructor(
    /** The folder's path, as the user knows it: for messages, and for checks where there is no /proc. */
    readonly path: string,
    readonly fd: number,
    /** How this process reaches the folder: `/proc/self/fd/N`, or the path where there is no /proc. */
    readonly via: string,
    /** The folder is a root, whose path may be a link of the user's: its path is followed. */
    private readonly isRoot = false,
  ) {}

  /**
   * Opens the folder `parts` below `root` (each part a real folder, checked just before by the caller, e.g. with
   * realFolder) and checks it is still that one now that it is open. `root` is the user's choice and may lie behind
   * links, or be one (then, with no `parts`, it is followed). Throws a ConflictError when a folder on the way changed in
   * between, and an ENOENT error when the folder is gone.
   */
  static open(root: string, parts: string[]): HeldFolder {
    const path = join(root, ...parts);
    const isRoot = parts.length === 0;
    const fd = openFolder(path, isRoot);
    try {
      const seen = fdPath(fd);
      if (seen === undefined) checkWithoutProc(root, parts, fstatSync(fd));
      else if (seen !== join(realpathSync(root), ...parts)) throw fstatSync(fd).nlink === 0 ? removed(path) : changed(path);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    return HeldFolder.holding(path, fd, isRoot);
  }

  private static holding(path: string, fd: number, isRoot = false): HeldFolder {
    if (!hasProc()) return new HeldFolder(path, fd, path, isRoot);
    shownByFd.set(fd, path);
    return new HeldFolder(path, fd, `${FD_PREFIX}${fd}`, isRoot);
  }

  /** How this process reaches `name` (one segment, or several below real folders) in this folder. */
  at(name: string): string {
    return `${this.via}/${name}`;
  }

  /**
   * The folder `name` (one segment) in this one, made first with `create` (EEXIST passes through: the caller decides),
   * and held. Through /proc nothing is left to check: the parent is the one held, the name is not followed.
   */
  child(name: string, create = false): HeldFolder {
    if (create) mkdirSync(this.at(name));
    const fd = openFolder(this.at(name));
    if (this.via === this.path) {
      try {
        const held = fstatSync(fd);
        const now = lstatSync(join(this.path, name));
        if (!sameInode(held, now) || !sameInode(fstatSync(this.fd), lstatSync(this.path))) throw changed(join(this.path, name));
      } catch (error) {
        closeSync(fd);
        throw error;
      }
    }
    return HeldFolder.holding(join(this.path, name), fd);
  }

  /** Whether `path` (not followed if a link) is this folder. */
  isAt(path: string): boolean {
    const now = lstatSync(path, { throwIfNoEntry: false });
    return now !== undefined && now.isDirectory() && sameInode(fstatSync(this.fd), now);
  }

  /**
   * Whether `child` (held) lies in this folder now. Through /proc its `..` is the folder it is in, whatever its path;
   * without, its path is followed, and the answer is only as good as a look by path.
   */
  holds(child: HeldFolder): boolean {
    const parent = statSync(child.at('..'), { throwIfNoEntry: false });
    return parent !== undefined && sameInode(fstatSync(this.fd), parent);
  }

  /**
   * Throws the ConflictError for this folder when it is no longer at its path (moved away, or a link put there; for a
   * root, when its path leads elsewhere).
   */
  expectStillThere(): void {
    if (!this.isAt(this.isRoot ? realPathOr(this.path, '') : this.path)) throw changed(this.path);
  }

  close(): void {
    shownByFd.delete(this.fd);
    closeSync(this.fd);
  }
}

/** `path` with a held folder's `/proc/self/fd/N` written as the folder's own path: what a message should name. */
export function shownPath(path: string): string {
  if (!path.startsWith(FD_PREFIX)) return path;
  const slash = path.indexOf('/', FD_PREFIX.length);
  const shown = shownByFd.get(Number(path.slice(FD_PREFIX.length, slash < 0 ? undefined : slash)));
  return shown === undefined ? path : shown + (slash < 0 ? '' : path.slice(slash));
}

/**
 * `error` (a system call's, naming paths through held folders) naming the paths as the user knows them instead: done
 * before the folders are closed, after which their `/proc/self/fd/N` can no longer be told apart.
 */
export function withShownPaths(error: unknown): unknown {
  const errno = error as (NodeJS.ErrnoException & { dest?: unknown }) | undefined;
  for (const key of ['path', 'dest'] as const) {
    const path = errno?.[key];
    if (typeof path !== 'string' || !path.startsWith(FD_PREFIX)) continue;
    const shown = shownPath(path);
    errno!.message = errno!.message.replaceAll(path, shown);
    errno![key] = shown;
  }
  return error;
}

/** The error for a folder that is no longer the one aim made or checked. */
export function changed(path: string): ConflictError {
  return new ConflictError(`${path} changed while aim was using it (a folder on the way was moved or replaced by a link)`, {
    hint: 'make sure nothing else writes there, then run the same command again',
  });
}

/**
 * The folder was removed between its open and its check (a command letting go of a lock removes its emptied folder):
 * gone, as if it had been removed before the open, which callers look at again, not changed under them.
 */
function removed(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOENT: ${path} was removed while being opened`), { code: 'ENOENT', path });
}

function openFolder(path: string, follow = false): number {
  try {
    return openSync(path, follow ? OPEN_FOLDER & ~constants.O_NOFOLLOW : OPEN_FOLDER);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // A link (ELOOP) or a file (ENOTDIR) where the folder was: something replaced it.
    if (code === 'ELOOP' || code === 'ENOTDIR') throw changed(shownPath(path));
    throw error;
  }
}

/** Where `path` leads now, or `otherwise` when nowhere. */
function realPathOr(path: string, otherwise: string): string {
  try {
    return realpathSync(path);
  } catch {
    return otherwise;
  }
}

let procWorks: boolean | undefined;

/** Whether /proc/self/fd names this process's descriptors (Linux with /proc mounted and readable), tried once on `/`. */
function hasProc(): boolean {
  if (procWorks !== undefined) return procWorks;
  procWorks = false;
  if (process.platform !== 'linux') return false;
  let fd: number | undefined;
  try {
    fd = openSync('/', OPEN_FOLDER);
    procWorks = readlinkSync(`${FD_PREFIX}${fd}`) === '/' && lstatSync(`${FD_PREFIX}${fd}/.`).isDirectory();
  } catch {
    procWorks = false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return procWorks;
}

/** The open folder's path as the kernel reports it, or undefined where there is no /proc. */
function fdPath(fd: number): string | undefined {
  return hasProc() ? readlinkSync(`${FD_PREFIX}${fd}`) : undefined;
}

/** Each folder from `root` down a real one, and the last the one `held` is. */
function checkWithoutProc(root: string, parts: string[], held: Stats): void {
  let folder = root;
  let info: Stats | undefined = parts.length === 0 ? statSync(root) : undefined;
  for (const part of parts) {
    folder = join(folder, part);
    info = lstatSync(folder);
    if (!info.isDirectory()) throw changed(folder);
  }
  if (!info || !sameInode(held, info)) throw changed(folder);
}

const sameInode = (a: Stats, b: Stats): boolean => a.ino === b.ino && a.dev === b.dev;
