import type { Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { writeAtomic } from '../../lib/atomic-write.js';
import type { HeldFolder } from '../../lib/held-folder.js';
import { FileTooLargeError, readRegularFileIfExists } from '../../lib/safe-fs.js';
import type { Digest } from '../format/digest.js';
import { UsageError } from '../../lib/errors.js';
import { MANIFEST_FORMAT, parseManifest, type Manifest } from '../format/manifest.js';
import { INSTALL_STATE_FORMAT, installStateSchema } from '../format/schemas/local-state.js';
import { parseJsonOrUndefined } from '../format/schemas/parse.js';
import type { SubsetRecord } from './subset.js';

// A pulled folder keeps a small `.aim/` beside the files (like huggingface-cli's local-dir cache): which version is
// installed, the stat of each file when it was verified (so an unchanged file is not read again), the manifest (so
// the next version's pull can reuse chunks from the files already here), and in-progress pulls in `.aim/partial`.

export interface InstalledFile {
  digest: Digest;
  size: number;
  mtimeMs: number;
  /** As in the stat cache: an edit that restores the mtime still moves the ctime. Absent in older records. */
  ctimeMs?: number;
  ino: number;
}

export interface InstallState {
  version: 1;
  manifest?: Digest;
  repo?: string;
  model?: string;
  tag?: string;
  files: Record<string, InstalledFile>;
  subset?: SubsetRecord;
}

export const stateFolder = (dest: string): string => join(dest, '.aim');
export const partialFolder = (dest: string): string => join(dest, '.aim', 'partial');

/** A bookkeeping file longer than its format allows is damaged, and costs what a damaged one costs: nothing is read. */
function overlongAsDamaged(error: unknown): undefined {
  if (error instanceof FileTooLargeError) return undefined;
  throw error;
}

export async function loadInstallState(dest: string): Promise<InstallState> {
  // Read as a regular file only: a link or FIFO planted there is refused (DEST/.aim is checked to be a real folder).
  const bytes = await readRegularFileIfExists(join(stateFolder(dest), 'state.json'), INSTALL_STATE_FORMAT.maxBytes).catch(overlongAsDamaged);
  // A damaged state only costs re-verifying files.
  return parseJsonOrUndefined(installStateSchema, bytes, INSTALL_STATE_FORMAT) ?? { version: 1, files: {} };
}

/**
 * Writes `name` in DEST/.aim atomically: through `aim`, the folder a pull holds open (lib/held-folder.ts), or else by
 * its path, each folder from DEST down checked to be a real one.
 */
async function writeStateFile(dest: string, name: string, data: Uint8Array | string, aim?: HeldFolder): Promise<void> {
  if (aim) await writeAtomic(aim.at(name), data);
  else await writeAtomic(join(stateFolder(dest), name), data, { root: dest });
}

export async function saveInstallState(dest: string, state: InstallState, manifestBytes?: Uint8Array, aim?: HeldFolder): Promise<void> {
  if (manifestBytes) await saveInstalledManifest(dest, manifestBytes, undefined, undefined, aim);
  await writeStateFile(dest, 'state.json', `${JSON.stringify(state, null, 1)}\n`, aim);
}

/**
 * The installed version's manifest, written before its state (which names the version). A pull writes it while it
 * renames the files, and a state naming another version (`installed`, an update's) is first written again naming none:
 * a pull stopped between the manifest and its own state then leaves no state that takes the new manifest for the
 * old version's (aim verify reports the version the state names, checked against the manifest). Every chunk read
 * through a manifest.json is verified, so for pulls a stop between the two costs nothing but time.
 */
export async function saveInstalledManifest(dest: string, manifestBytes: Uint8Array, installed?: InstallState, digest?: Digest, aim?: HeldFolder): Promise<void> {
  if (installed?.manifest !== undefined && installed.manifest !== digest) await saveInstallState(dest, { ...installed, manifest: undefined }, undefined, aim);
  await writeStateFile(dest, 'manifest.json', manifestBytes, aim);
}

export async function loadInstalledManifest(dest: string): Promise<Manifest | undefined> {
  const bytes = await readRegularFileIfExists(join(stateFolder(dest), 'manifest.json'), MANIFEST_FORMAT.maxBytes).catch(overlongAsDamaged);
  if (!bytes) return undefined;
  try {
    return parseManifest(bytes, `${dest}/.aim/manifest.json`);
  } catch {
    return undefined;
  }
}

/**
 * The manifest of another pulled folder that offers its chunks to a pull (reuseFrom), or undefined. Such folders sit
 * where others may write (AIM_HOME's other versions of a model): one that is a link, or whose `.aim` is, leads
 * elsewhere and is not read at all.
 */
export async function loadOfferedManifest(folder: string): Promise<Manifest | undefined> {
  for (const path of [folder, join(folder, '.aim')]) {
    if (!(await lstat(path).catch(() => undefined))?.isDirectory()) return undefined;
  }
  return loadInstalledManifest(folder).catch(() => undefined);
}

/** True when the file on disk is still the one recorded as verified. */
export async function isUnchanged(path: string, recorded: InstalledFile | undefined, digest: Digest): Promise<boolean> {
  if (!recorded || recorded.digest !== digest) return false;
  const info = await lstat(path).catch(() => undefined);
  return info !== undefined && matchesRecord(info, recorded, digest);
}

/** isUnchanged for a file already looked at: `info` is its lstat. */
export function matchesRecord(info: Stats, recorded: InstalledFile | undefined, digest: Digest): boolean {
  if (!recorded || recorded.digest !== digest || !info.isFile()) return false;
  return info.size === recorded.size && info.mtimeMs === recorded.mtimeMs && info.ctimeMs === recorded.ctimeMs && info.ino === recorded.ino;
}

export interface Target {
  target: string;
  /** A folder on the way does not exist yet (or something else stands in its place): nothing is at the target either. */
  folderMissing: boolean;
  /**
   * The first name on the way (relative to DEST) that is not a real folder: a file, a link, a FIFO. The target is
   * reached only once that goes; nothing is ever looked at or written through it.
   */
  blockedBy?: string;
}

/** What stands at a folder on the way: a real folder, nothing, or something else (a link, a file). */
type FolderKind = 'folder' | 'missing' | 'blocked';
/** What stands between DEST and a folder: every folder real, one missing, or the first one that is not a folder. */
type ChainKind = 'folder' | 'missing' | { blockedBy: string };

/** A segment that is empty, `.` or `..`, or a leading `/`: such a path is resolved, not joined. */
const NOT_PLAIN = /(^|\/)\.{0,2}(\/|$)/;

/**
 * The absolute targets of manifest paths inside DEST, each with what stands on its way (nothing of DEST's is reached
 * through a folder that is not a real one): each parent folder is looked at once. Manifest paths are validated on read.
 */
export class Targets {
  private readonly root: string;
  private readonly folders = new Map<string, Promise<FolderKind>>();
  private readonly chains = new Map<string, Promise<ChainKind>>();
  private names: Promise<Set<string> | undefined> | undefined;

  constructor(dest: string) {
    this.root = resolve(dest);
  }

  async resolve(path: string): Promise<Target> {
    const target = this.targetOf(path);
    const slash = path.lastIndexOf('/');
    const kind = slash > 0 ? await this.chain(path.slice(0, slash)) : 'folder';
    if (typeof kind === 'object') return { target, folderMissing: true, blockedBy: kind.blockedBy };
    return { target, folderMissing: kind === 'missing' };
  }

  /**
   * What resolve() would say, without waiting, when DEST's listing (read by listing()) lacks the path's first folder:
   * in a new destination, every file. Undefined when a look is needed.
   */
  resolveListed(path: string, listing: Set<string> | undefined): Target | undefined {
    const slash = path.indexOf('/');
    if (slash <= 0 || !listing || listing.has(path.slice(0, slash))) return undefined;
    return { target: this.targetOf(path), folderMissing: true };
  }

  /** The names in DEST (undefined when it cannot be listed), read once. */
  listing(): Promise<Set<string> | undefined> {
    this.names ??= readdir(this.root).then(
      (names) => new Set(names),
      () => undefined,
    );
    return this.names;
  }

  private targetOf(path: string): string {
    // A path with no `.`, `..` or empty segment names the same place joined as it is, without resolve()'s cost.
    const target = NOT_PLAIN.test(path) ? resolve(this.root, ...path.split('/')) : `${this.root}/${path}`;
    if (!target.startsWith(this.root + sep)) {
      throw new UsageError(`refusing to write ${path} outside ${this.root}`, { hint: 'the manifest is hostile; do not pull it' });
    }
    return target;
  }

  /** Whether every folder down to `folder` is a real one, one is missing, or one is not a folder; looked at once per folder. */
  chain(folder: string): Promise<ChainKind> {
    let kind = this.chains.get(folder);
    if (!kind) {
      kind = (async () => {
        const parts = folder.split('/');
        for (let i = 1; i <= parts.length; i++) {
          const found = await this.folder(parts.slice(0, i));
          if (found === 'missing') return found;
          if (found === 'blocked') return { blockedBy: parts.slice(0, i).join('/') };
        }
        return 'folder' as const;
      })();
      this.chains.set(folder, kind);
    }
    return kind;
  }

  private folder(parts: string[]): Promise<FolderKind> {
    const key = parts.join('/');
    let kind = this.folders.get(key);
    if (!kind) {
      kind = this.mayExist(parts).then((may) => (may ? this.kindOf(parts) : ('missing' as const)));
      this.folders.set(key, kind);
    }
    return kind;
  }

  /**
   * False when DEST's listing lacks the folder's first name: in a new destination every folder is missing, and a
   * look at each (a failed lstat builds an error object) cost more than the one listing.
   */
  private async mayExist(parts: string[]): Promise<boolean> {
    return (await this.listing())?.has(parts[0]!) ?? true;
  }

  /** What is at the folder: a real folder, nothing, or something that is not a folder (never followed). */
  private kindOf(parts: string[]): Promise<FolderKind> {
    return lstat(join(this.root, ...parts)).then(
      (info) => (info.isDirectory() ? ('folder' as const) : ('blocked' as const)),
      () => 'missing' as const,
    );
  }
}
