// The install records in $AIM_HOME/installed/<repo>/<model>/<tag>.json: what `aim install` put under AIM_HOME and
// which tag each follows. The files themselves live where `aim run` pulls (servingFolder, by digest), so run, install
// and update share them. Records are written atomically and read back as untrusted: folders must be real ones, each
// file regular and small, its JSON checked by the schema, and its place must match what it says (a record moved
// or copied to another name would make `aim rm` remove one thing and forget another). A bad record is reported by
// name; the others keep working.
//
// Every write and removal of a model's records is made under that model's records lock (withRecordsLocked), with the
// look it depends on: which version the tag's record names just then.
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isTempName, writeAtomic } from '../../lib/atomic-write.js';
import { AimError, IntegrityError } from '../../lib/errors.js';
import { readRegularFileIfExists, realFolder } from '../../lib/safe-fs.js';
import { digestHex, digestOf } from '../format/digest.js';
import { MANIFEST_FORMAT, parseManifest, type Manifest } from '../format/manifest.js';
import { isSafeName } from '../format/names.js';
import { DEFAULT_TAG, formatReference, type Reference } from '../format/reference.js';
import { INSTALL_RECORD_FORMAT, installRecordSchema, type InstallRecord } from '../format/schemas/install-record.js';
import { corrupt, parseJson } from '../format/schemas/parse.js';
import { servingFolder } from '../serve/serving-folder.js';
import { withLockIn } from '../transfer/dest-lock.js';
import { pauseForTest } from '../transfer/test-pause.js';

export type { InstallRecord } from '../format/schemas/install-record.js';

const INSTALLED = 'installed';

/** The record's file name: its tag, or `@<hex>` for a version installed by digest (`@` is in no name). */
const fileNameOf = (record: Pick<InstallRecord, 'tag' | 'digest'>): string => `${record.tag ?? `@${digestHex(record.digest)}`}.json`;

export const referenceOf = (record: InstallRecord): string =>
  formatReference({ repo: record.repo, model: record.model, ...(record.tag ? { tag: record.tag } : { digest: record.digest }) });

/** Where the record's files are. */
export const folderOf = (home: string, record: InstallRecord): string => servingFolder(home, record.repo, record.model, record.digest);

/** The folder, in a model's records folder, holding their lock (as DEST/.aim holds a destination's). */
const LOCK_FOLDER = '.aim';

/**
 * Runs `change` holding the lock of the model's install records (installed/<repo>/<model>/.aim/lock, taken and let go
 * of as a destination's lock: dest-lock.ts), so that another command's write cannot land between a look at a record
 * and the write or removal it decides. One lock per model, not per record: a model's records are few and each is
 * held for one small write, so nothing waits long, and a tag's record and the model's records by digest never need
 * two locks. It is taken innermost: a command may hold a version folder's lock when it takes it, but takes no other
 * lock while it holds it, so no two commands ever wait for each other.
 */
function withRecordsLocked<T>(home: string, model: Pick<InstallRecord, 'repo' | 'model'>, change: () => Promise<T>): Promise<T> {
  // The model's and the repository's folders go too once their last record is gone (as models/<repo>/<model> go).
  const emptied = [join(home, INSTALLED, model.repo, model.model), join(home, INSTALLED, model.repo)];
  return withLockIn(home, [INSTALLED, model.repo, model.model, LOCK_FOLDER], change, emptied);
}

/**
 * Takes and lets go of the model's records lock, changing nothing: run before a pull, so that a records folder or lock
 * that cannot be used (a link planted there, a file where a folder must be) is reported before the pull's work, not
 * after it, when the record is written.
 */
export async function checkRecordsLock(home: string, model: Pick<InstallRecord, 'repo' | 'model'>): Promise<void> {
  await withRecordsLocked(home, model, async () => undefined);
}

/** The record in `file` of the model's records, or undefined when there is none (it "vanished") or it cannot be read. */
function recordIfReadable(home: string, repo: string, model: string, file: string): Promise<InstallRecord | undefined> {
  return readRecord(home, repo, model, file).catch((error: unknown) => {
    if (error instanceof IntegrityError) return undefined;
    throw error;
  });
}

/**
 * Writes `record`; returns the one it replaced when that named another version (the tag moved): the version whose
 * folder the caller releases. Read under the same lock as the write, so it is the one replaced, not the one this
 * command saw when it began (a concurrent install may have moved the tag since, or `aim rm` removed it).
 */
export async function saveInstallRecord(home: string, record: InstallRecord): Promise<InstallRecord | undefined> {
  return withRecordsLocked(home, record, async () => {
    const replaced = await recordIfReadable(home, record.repo, record.model, fileNameOf(record));
    const folder = await realFolder(home, [INSTALLED, record.repo, record.model], { create: true });
    await writeAtomic(join(folder, fileNameOf(record)), `${JSON.stringify(record, null, 2)}\n`, { root: home });
    return replaced && replaced.digest !== record.digest ? replaced : undefined;
  });
}

async function removeRecordFile(home: string, record: InstallRecord): Promise<void> {
  const folder = await realFolder(home, [INSTALLED, record.repo, record.model]);
  await rm(join(folder, fileNameOf(record)), { force: true });
}

/** Removes `record` as it is, looking at nothing first: for one by digest (a bundle's member), named for good. */
export async function removeInstallRecord(home: string, record: InstallRecord): Promise<void> {
  await withRecordsLocked(home, record, () => removeRecordFile(home, record));
}

/**
 * Removes `record` unless its tag names another version now (an install or update moved it meanwhile): then returns
 * that record and removes nothing. The look and the removal are one step under the records lock: otherwise a record
 * written between them, naming the new version, would be the one removed, and that version's folder named by none.
 */
export async function removeInstallRecordUnlessMoved(home: string, record: InstallRecord): Promise<InstallRecord | undefined> {
  return withRecordsLocked(home, record, async () => {
    const now = record.tag ? await findInstalled(home, { repo: record.repo, model: record.model, tag: record.tag }) : undefined;
    if (now && now.digest !== record.digest) return now;
    pauseForTest('BEFORE_RECORD_REMOVAL');
    await removeRecordFile(home, record);
    return undefined;
  });
}

export interface InstalledListing {
  records: InstallRecord[];
  /** One per record (or folder) that could not be read: which file, and why. */
  problems: AimError[];
}

/** Names of the real folders in `folder` that aim could have made; a link there is reported, never followed. */
async function subfolders(folder: string, problems: AimError[]): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  for (const link of entries.filter((e) => e.isSymbolicLink())) {
    problems.push(corrupt(INSTALL_RECORD_FORMAT, join(folder, link.name), 'it is a symlink, not a folder aim made'));
  }
  return entries.filter((e) => e.isDirectory() && isSafeName(e.name)).map((e) => e.name).sort();
}

async function readRecord(home: string, repo: string, model: string, file: string): Promise<InstallRecord> {
  const path = join(await realFolder(home, [INSTALLED, repo, model]), file);
  // A link, FIFO, device or oversized file there is refused with a plain error naming it.
  const bytes = await readRegularFileIfExists(path, INSTALL_RECORD_FORMAT.maxBytes);
  if (!bytes) throw corrupt(INSTALL_RECORD_FORMAT, path, 'it vanished while being read');
  const record = parseJson(installRecordSchema, bytes, INSTALL_RECORD_FORMAT, path);
  if (record.repo !== repo || record.model !== model || fileNameOf(record) !== file) {
    throw corrupt(INSTALL_RECORD_FORMAT, path, `it names ${referenceOf(record)}, not what its place says`);
  }
  return record;
}

/** Every readable install record, and a problem for each unreadable one. */
export async function listInstallRecords(home: string): Promise<InstalledListing> {
  const listing: InstalledListing = { records: [], problems: [] };
  const root = await realFolder(home, [INSTALLED]).catch((error: unknown) => {
    listing.problems.push(error instanceof AimError ? error : new AimError(String(error)));
    return undefined;
  });
  if (!root) return listing;
  for (const repo of await subfolders(root, listing.problems)) {
    for (const model of await subfolders(join(root, repo), listing.problems)) {
      const names = await readdir(join(root, repo, model)).catch(() => [] as string[]);
      for (const file of names.filter((n) => n.endsWith('.json') && !isTempName(n)).sort()) {
        try {
          listing.records.push(await readRecord(home, repo, model, file));
        } catch (error) {
          if (!(error instanceof AimError)) throw error;
          listing.problems.push(error);
        }
      }
    }
  }
  return listing;
}

/** The record installing `ref` (by its tag, or by its digest under any tag), or undefined. A bad record throws. */
export async function findInstalled(home: string, ref: Reference): Promise<InstallRecord | undefined> {
  if (!ref.digest) {
    const file = fileNameOf({ tag: ref.tag ?? DEFAULT_TAG, digest: undefined as never });
    // Anything under the name (a link too) is read by readRecord, which refuses what is not a regular file.
    const present = await lstat(join(await realFolder(home, [INSTALLED, ref.repo, ref.model]), file)).then(() => true, () => false);
    return present ? readRecord(home, ref.repo, ref.model, file) : undefined;
  }
  const { records } = await listInstallRecords(home);
  return records.find((r) => r.repo === ref.repo && r.model === ref.model && r.digest === ref.digest);
}

/** findInstalled, with a damaged record taken as none: installing again or asking the repository is the way out. */
export async function findInstalledIfReadable(home: string, ref: Reference): Promise<InstallRecord | undefined> {
  return findInstalled(home, ref).catch((error: unknown) => {
    if (error instanceof IntegrityError) return undefined;
    throw error;
  });
}

/**
 * The manifest of an installed version as its folder keeps it (DEST/.aim/manifest.json), if its bytes are that
 * version's: hashed against the record's digest, since the folder is local state anyone can edit. Undefined when it
 * is missing or is not (then the version is pulled again, which repairs the folder).
 */
export async function installedManifest(home: string, record: InstallRecord): Promise<Manifest | undefined> {
  const path = join(folderOf(home, record), '.aim', 'manifest.json');
  const bytes = await readRegularFileIfExists(path, MANIFEST_FORMAT.maxBytes).catch(() => undefined);
  if (!bytes || (await digestOf(bytes)) !== record.digest) return undefined;
  return parseManifest(bytes, path);
}
