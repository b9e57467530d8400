import { lstat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { forEachConcurrently } from '../../lib/concurrently.js';
import type { Digest } from '../format/digest.js';
import type { Manifest, ManifestFile } from '../format/manifest.js';
import type { HashPool } from '../hashing/hash-pool.js';
import { verifyFileOnDisk } from '../verify/verify-file.js';
import type { ChunkSource, PullFileContext } from './fetch-units.js';
import { isUnchanged, Targets, type InstallState, type InstalledFile } from './install-state.js';
import { recordInstalled } from './pull-install.js';

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
 * Unchanged since verified, or (after a killed rename phase, or files copied in by hand) the right bytes. A file
 * still exactly as an older version installed it is known to differ: it is not read twice.
 */
async function isInPlace(target: string, recorded: InstalledFile | undefined, file: ManifestFile, pool: HashPool): Promise<boolean> {
  const knownOther = recorded !== undefined && recorded.digest !== file.digest && (await isUnchanged(target, recorded, recorded.digest));
  return (await isUnchanged(target, recorded, file.digest)) || (!knownOther && (await verifyFileOnDisk(target, file, pool)));
}

/** Files checked at once for being in place already: a file's full read (verify) holds a 4 MiB buffer. */
const CHECKS_IN_FLIGHT = 8;

export interface Wanted {
  file: ManifestFile;
  target: string;
  occupied: boolean;
  /** The path's first folder, when DEST had no such name as the pull planned: the whole folder is new. */
  freshTop?: string;
}

/** The files not in place yet, in manifest order; those in place are recorded in `next` (and counted as progress). */
export async function filesToFetch(manifest: Manifest, dest: string, state: InstallState, next: InstallState, context: PullFileContext): Promise<Wanted[]> {
  const targets = new Targets(dest);
  const listing = await targets.listing();
  const listed = manifest.files.map((file) => targets.resolveListed(file.path, listing));
  // Looked at only where the listing cannot tell (in a new destination, no file): a settled value a file given to
  // Promise.all costs more than the look.
  const resolved = listed.every((target) => target !== undefined) ? listed : await Promise.all(manifest.files.map((file, position) => listed[position] ?? targets.resolve(file.path)));
  const found: Array<Wanted | undefined> = [];
  const toCheck: number[] = [];
  // A file whose folder does not exist yet is not there either (all of them, in a new destination): nothing to look at.
  for (let position = 0; position < resolved.length; position++) {
    const { target, folderMissing } = resolved[position]!;
    const file = manifest.files[position]!;
    if (!folderMissing) toCheck.push(position);
    else if (!listed[position]) found[position] = { file, target, occupied: false };
    else found[position] = { file, target, occupied: false, freshTop: file.path.slice(0, file.path.indexOf('/')) };
  }
  await forEachConcurrently(toCheck, CHECKS_IN_FLIGHT, async (position) => {
    const file = manifest.files[position]!;
    const { target } = resolved[position]!;
    // A link, FIFO or folder under the name is replaced, never read.
    const info = await lstat(target).catch(() => undefined);
    if (info?.isFile() && (await isInPlace(target, state.files[file.path], file, context.pool))) {
      await recordInstalled(next, file, target);
      context.counters.bytesReused += file.size;
      context.task.advance(file.size);
      return;
    }
    found[position] = { file, target, occupied: info !== undefined };
  });
  return found.filter((entry) => entry !== undefined);
}
