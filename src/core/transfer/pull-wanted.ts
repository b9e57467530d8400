import { lstatSync, type Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { forEachConcurrently } from '../../lib/concurrently.js';
import { ConflictError } from '../../lib/errors.js';
import { kindOf } from '../../lib/safe-fs.js';
import { onLocalDisk } from '../../lib/local-disk.js';
import { counted } from '../../lib/plural.js';
import type { Digest } from '../format/digest.js';
import type { Manifest, ManifestFile } from '../format/manifest.js';
import type { HashPool } from '../hashing/hash-pool.js';
import { digestOnDisk } from '../verify/verify-file.js';
import { seenOf, type Seen } from './as-seen.js';
import type { ChunkSource, PullFileContext } from './fetch-units.js';
import { isUnchanged, matchesRecord, Targets, type InstallState, type InstalledFile } from './install-state.js';
import { record, type Blocker, type Occupant } from './pull-install.js';

// What a pull has to do in DEST: which files are already in place (unchanged since the last pull, or holding the right
// bytes), and where the chunks of the version installed there already sit on disk.

/** Where chunks already sit on local disk. Every chunk read from there is verified again before use. */
export async function locatorFor(folders: Array<{ dest: string; manifest: Manifest | undefined }>): Promise<Map<Digest, ChunkSource>> {
  const locator = new Map<Digest, ChunkSource>();
  for (const { dest, manifest } of folders) {
    for (const file of manifest?.files ?? []) {
      let offset = 0;
      for (const chunk of file.chunks) {
        if (!locator.has(chunk.digest)) locator.set(chunk.digest, { path: resolve(dest, ...file.path.split('/')), offset });
        offset += chunk.size;
      }
    }
  }
  return locator;
}

/**
 * What is at `target`: the file the version wants (unchanged since verified, or, after a killed rename phase or a copy
 * by hand, the right bytes), nothing, or an occupant. A file still exactly as an older version installed it is known to
 * differ: it is not read.
 */
async function occupantOf(target: string, recorded: InstalledFile | undefined, file: ManifestFile, pool: HashPool): Promise<{ occupant: Occupant | 'in place' | undefined; info?: Stats }> {
  const info = await lstat(target).catch(() => undefined);
  return { occupant: info && (await occupantSeen(target, info, recorded, file, pool)), info };
}

/** occupantOf, for what is at `target` (`info`, its lstat): one look serves the check and the record. */
async function occupantSeen(target: string, info: Stats, recorded: InstalledFile | undefined, file: ManifestFile, pool: HashPool): Promise<Occupant | 'in place'> {
  const known = occupantByStat(info, recorded, file);
  if (known) return known;
  // A folder that cannot be listed may hold anything: the user's.
  if (info.isDirectory()) return (await readdir(target).catch(() => undefined))?.length === 0 ? 'empty-folder' : 'users-folder';
  const older = olderRecord(recorded, file);
  // One read tells both: the version's bytes, or (a copy or a touch moved its stat) still the older version's.
  const digest = await digestOnDisk(target, older ? [file.size, older.size] : [file.size], pool);
  if (digest === file.digest) return 'in place';
  return older && digest === older.digest ? 'aims' : 'users-file';
}

/**
 * What the lstat alone tells of what is at a target: the file in place as recorded, the older version's file as it
 * was installed, or something with no bytes of its own (a link, a FIFO), which is aim's to replace. Undefined when a
 * folder must be listed or a file read.
 */
function occupantByStat(info: Stats, recorded: InstalledFile | undefined, file: ManifestFile): 'aims' | 'in place' | undefined {
  if (info.isDirectory()) return undefined;
  if (!info.isFile()) return 'aims';
  if (matchesRecord(info, recorded, file.digest)) return 'in place';
  const older = olderRecord(recorded, file);
  return older && matchesRecord(info, older, older.digest) ? 'aims' : undefined;
}

/** The record of the older version's file at the file's path, when it differs from the file. */
const olderRecord = (recorded: InstalledFile | undefined, file: ManifestFile) => (recorded !== undefined && recorded.digest !== file.digest ? recorded : undefined);

/**
 * What stands at `path` (relative to DEST) where the version has a folder. aim's when it is the file an older version
 * installed there, unchanged by its stat or (a copy or a touch moved that) by its bytes; anything else is the user's.
 */
async function blockerAt(dest: string, path: string, recorded: InstalledFile | undefined, pool: HashPool): Promise<Blocker> {
  const target = resolve(dest, ...path.split('/'));
  const info = await lstat(target).catch(() => undefined);
  if (!info) return { path: target, occupant: 'aims', kind: 'nothing' }; // gone since: nothing to clear
  const installed = info.isFile() ? recorded : undefined;
  const aims = installed && ((await isUnchanged(target, installed, installed.digest)) || (await digestOnDisk(target, [installed.size], pool)) === installed.digest);
  return { path: target, occupant: aims ? 'aims' : 'users-file', kind: kindOf(info), ...(aims ? { seen: seenOf(info) } : {}) };
}

/** Each blocker named in `paths` (relative to DEST), looked at once. */
async function blockersAt(dest: string, paths: Iterable<string>, state: InstallState, pool: HashPool): Promise<Map<string, Blocker>> {
  const found = new Map<string, Blocker>();
  await forEachConcurrently([...new Set(paths)], CHECKS_IN_FLIGHT, async (path) => {
    found.set(path, await blockerAt(dest, path, state.files[path], pool));
  });
  return found;
}

/** Files checked at once for being in place already: a file's full read (verify) holds a 4 MiB buffer. */
const CHECKS_IN_FLIGHT = 8;

export interface Wanted {
  file: ManifestFile;
  target: string;
  /** What is at the target now, if anything. */
  occupant?: Occupant;
  /** The path's first folder, when DEST had no such name as the pull planned: the whole folder is new. */
  freshTop?: string;
  /** What stands where a folder of the path goes (nothing is at the target until it goes). */
  blockedBy?: Blocker;
  /** What the last look found at the target, when it is aim's to replace: a file changed since is the user's. */
  seen?: Seen;
}

/** What filesToFetch uses of a pull's context: the hashing pool, and the counters and progress a file in place adds to. */
export type InPlaceChecks = Pick<PullFileContext, 'pool' | 'counters'> & { task?: PullFileContext['task'] };

/** The files not in place yet, in manifest order; those in place are recorded in `next` (and counted as progress). */
export async function filesToFetch(manifest: Manifest, dest: string, state: InstallState, next: InstallState, context: InPlaceChecks): Promise<Wanted[]> {
  const targets = new Targets(dest);
  const listing = await targets.listing();
  const listed = manifest.files.map((file) => targets.resolveListed(file.path, listing));
  // Looked at only where the listing cannot tell (in a new destination, no file): a settled value a file given to
  // Promise.all costs more than the look.
  const resolved = listed.every((target) => target !== undefined) ? listed : await Promise.all(manifest.files.map((file, position) => listed[position] ?? targets.resolve(file.path)));
  const found: Array<Wanted | undefined> = [];
  const toCheck: number[] = [];
  const blocked = resolved.filter((entry) => entry.blockedBy !== undefined).map((entry) => entry.blockedBy!);
  const blockers = blocked.length > 0 ? await blockersAt(dest, blocked, state, context.pool) : undefined;
  // A file whose folder does not exist yet is not there either (all of them, in a new destination): nothing to look at.
  for (let position = 0; position < resolved.length; position++) {
    const { target, folderMissing, blockedBy } = resolved[position]!;
    const file = manifest.files[position]!;
    if (blockedBy !== undefined) found[position] = { file, target, blockedBy: blockers!.get(blockedBy)! };
    else if (!folderMissing) toCheck.push(position);
    else if (!listed[position]) found[position] = { file, target };
    else found[position] = { file, target, freshTop: file.path.slice(0, file.path.indexOf('/')) };
  }
  const unsure = toCheck.length > 0 && (await onLocalDisk(dest)) ? toCheck.filter((position) => !settledNow(position)) : toCheck;
  await forEachConcurrently(unsure, CHECKS_IN_FLIGHT, async (position) => {
    const file = manifest.files[position]!;
    const { target } = resolved[position]!;
    const { occupant, info } = await occupantOf(target, state.files[file.path], file, context.pool);
    if (occupant === 'in place') inPlace(file, info!);
    else found[position] = { file, target, occupant };
  });
  return found.filter((entry) => entry !== undefined);

  /**
   * On a local disk, whether one synchronous look settles the file at `position`: nothing at its target (every file of
   * a version pulled into folders DEST has), the file in place as recorded (recorded in `next` then: every file of an
   * unchanged version), or what occupantByStat says is aim's (the older version's file an update replaces). Anything
   * else is left to occupantOf.
   */
  function settledNow(position: number): boolean {
    const file = manifest.files[position]!;
    const { target } = resolved[position]!;
    const info = lstatNow(target);
    if (info === 'unknown') return false;
    const occupant = info && occupantByStat(info, state.files[file.path], file);
    if (occupant === 'in place') inPlace(file, info!);
    else if (info === undefined || occupant === 'aims') found[position] = { file, target, occupant };
    else return false;
    return true;
  }

  /** Records the file in place as `info` (the look that found it there) says, so the next pull compares that. */
  function inPlace(file: ManifestFile, info: Stats): void {
    record(next, file, info);
    context.counters.bytesReused += file.size;
    context.task?.advance(file.size);
  }
}

/**
 * The lstat of `path`, looked at synchronously: undefined when nothing is there, 'unknown' when the look fails
 * otherwise (a file where a folder was). In a new destination every target is missing, and a synchronous look that
 * makes no error object costs a tenth of a failed asynchronous one.
 */
function lstatNow(path: string): Stats | undefined | 'unknown' {
  try {
    return lstatSync(path, { throwIfNoEntry: false });
  } catch {
    return 'unknown';
  }
}

/**
 * Looks again at each target once the files are built: a transfer may take minutes, and a file the user put at a
 * target meanwhile, or an edit of one aim installed, is theirs as much as what was there when the pull planned. Each
 * entry's occupant becomes what is there now, which the renames clear (only the renames themselves go unwatched). The
 * folders on the way are looked at first, once each: a file or link put where one goes is a blocker, and nothing is
 * looked at through it.
 */
export async function lookAgain(entries: Array<Pick<Wanted, 'file' | 'target' | 'occupant' | 'blockedBy' | 'seen'>>, dest: string, state: InstallState, pool: HashPool): Promise<void> {
  const targets = new Targets(dest);
  const folderOf = (path: string) => path.slice(0, Math.max(path.lastIndexOf('/'), 0));
  const folders = [...new Set(entries.map(({ file }) => folderOf(file.path)))].filter(Boolean);
  const chains = new Map(await Promise.all(folders.map(async (folder) => [folder, await targets.chain(folder)] as const)));
  const blocked = [...chains.values()].flatMap((kind) => (typeof kind === 'object' ? [kind.blockedBy] : []));
  const blockers = blocked.length > 0 ? await blockersAt(dest, blocked, state, pool) : undefined;
  const present: typeof entries = [];
  for (const entry of entries) {
    const kind = chains.get(folderOf(entry.file.path));
    entry.blockedBy = typeof kind === 'object' ? blockers!.get(kind.blockedBy) : undefined;
    // Nothing can be in a folder that is missing (every folder of a new destination): no look at each of its files.
    const info = entry.blockedBy || kind === 'missing' ? undefined : lstatNow(entry.target);
    if (info === undefined) entry.occupant = undefined;
    // In place, or the older version's file as installed: either way aim's to replace, known from the look alone.
    else if (info !== 'unknown' && occupantByStat(info, state.files[entry.file.path], entry.file)) {
      entry.occupant = 'aims';
      entry.seen = seenOf(info);
    } else present.push(entry);
  }
  await forEachConcurrently(present, CHECKS_IN_FLIGHT, async (entry) => {
    const { occupant: now, info } = await occupantOf(entry.target, state.files[entry.file.path], entry.file, pool);
    // The right bytes there now (another pull of this version beside this one): replacing them loses nothing.
    entry.occupant = now === 'in place' ? 'aims' : now;
    entry.seen = entry.occupant === 'aims' && info ? seenOf(info) : undefined;
  });
}

/**
 * Refuses a pull that would replace what is not aim's (`Occupant`, `Blocker`): before anything is fetched, and again
 * once the files are built (lookAgain). One line names the first such path in manifest order and how many there are.
 */
export function refuseUsersFiles(wanted: Array<Pick<Wanted, 'target' | 'occupant' | 'blockedBy'>>): void {
  const users: string[] = [];
  const blockers = new Set<Blocker>();
  for (const { target, occupant, blockedBy } of wanted) {
    if (blockedBy && !blockers.has(blockedBy)) {
      blockers.add(blockedBy);
      if (blockedBy.occupant === 'users-file') users.push(`${blockedBy.path} (${blockedBy.kind} where the version has a folder)`);
    }
    if (occupant === 'users-file') users.push(target);
    else if (occupant === 'users-folder') users.push(`${target} (a folder holding files)`);
  }
  if (users.length === 0) return;
  const [who, them] = users.length === 1 ? [`${users[0]} is`, 'it'] : [`${users[0]} and ${counted(users.length - 1, 'other file')} are`, 'them'];
  throw new ConflictError(`${who} not aim's and would be replaced`, { hint: `move ${them} away, or pull again with --force to replace ${them}` });
}
