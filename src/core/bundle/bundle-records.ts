// $AIM_HOME/installed-bundles/<repo>/<bundle>/<tag>.json: which bundles are installed and which tag each follows.
// The members are installed as versions pinned by digest (install records of their own, under installed/), so
// `run` and `inspect` find them as they find any version; this record is what `update` and `rm` of the bundle
// follow. Read back like every install record: real folders, regular bounded files, the schema, its place.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAtomic } from '../../lib/atomic-write.js';
import { AimError } from '../../lib/errors.js';
import { readRegularFileIfExists, realFolder } from '../../lib/safe-fs.js';
import { isSafeName } from '../format/names.js';
import { BUNDLE_INSTALL_FORMAT, bundleInstallSchema, type BundleInstall } from '../format/schemas/bundle.js';
import { corrupt, parseJson } from '../format/schemas/parse.js';
import { withLockIn } from '../transfer/dest-lock.js';

export type { BundleInstall };

const FOLDER = 'installed-bundles';

/**
 * Runs `change` holding the lock of the bundle records (installed-bundles/.aim/lock, taken as a destination's:
 * dest-lock.ts). `aim rm` of a bundle decides which members no other installed bundle names and removes them under it;
 * an install writes its bundle's record under it once it has checked that its members are still installed. Otherwise
 * a member the install had just installed could be removed as named by no bundle, and the record written after it
 * would name a member that is not there. Taken before any version folder's or install records' lock, never after.
 */
export function withBundlesLocked<T>(home: string, change: () => Promise<T>): Promise<T> {
  // The folder too, made for the lock where no bundle was ever installed (`aim rm NAME` of a model looks here too).
  return withLockIn(home, [FOLDER, '.aim'], change, [join(home, FOLDER)]);
}

export async function saveBundleRecord(home: string, record: BundleInstall): Promise<void> {
  const folder = await realFolder(home, [FOLDER, record.repo, record.bundle], { create: true });
  await writeAtomic(join(folder, `${record.tag}.json`), `${JSON.stringify(record, null, 2)}\n`, { root: home });
}

export async function removeBundleRecord(home: string, record: BundleInstall): Promise<void> {
  await rm(join(await realFolder(home, [FOLDER, record.repo, record.bundle]), `${record.tag}.json`), { force: true });
}

const names = async (folder: string): Promise<string[]> =>
  (await readdir(folder, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory() && isSafeName(e.name)).map((e) => e.name).sort();

async function readRecord(home: string, repo: string, bundle: string, file: string): Promise<BundleInstall> {
  const path = join(await realFolder(home, [FOLDER, repo, bundle]), file);
  const bytes = await readRegularFileIfExists(path, BUNDLE_INSTALL_FORMAT.maxBytes);
  if (!bytes) throw corrupt(BUNDLE_INSTALL_FORMAT, path, 'it vanished while being read');
  const record = parseJson(bundleInstallSchema, bytes, BUNDLE_INSTALL_FORMAT, path);
  if (record.repo !== repo || record.bundle !== bundle || `${record.tag}.json` !== file) throw corrupt(BUNDLE_INSTALL_FORMAT, path, 'it names another bundle than its place says');
  return record;
}

/** Every installed bundle; a record that does not read is a problem, named by its file. */
export async function listBundleRecords(home: string): Promise<{ records: BundleInstall[]; problems: AimError[] }> {
  const records: BundleInstall[] = [];
  const problems: AimError[] = [];
  const root = await realFolder(home, [FOLDER]);
  for (const repo of await names(root)) {
    for (const bundle of await names(join(root, repo))) {
      const files = (await readdir(join(root, repo, bundle)).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).sort();
      for (const file of files) {
        try {
          records.push(await readRecord(home, repo, bundle, file));
        } catch (error) {
          if (!(error instanceof AimError)) throw error;
          problems.push(error);
        }
      }
    }
  }
  return { records, problems };
}

/** The installed bundles `text` names: NAME, NAME:TAG, REPO/NAME or REPO/NAME:TAG. */
export function matchBundles(records: BundleInstall[], text: string): BundleInstall[] {
  const slash = text.indexOf('/');
  const repo = slash > 0 ? text.slice(0, slash) : undefined;
  const [bundle, tag] = text.slice(slash + 1).split(':');
  return records.filter((r) => r.bundle === bundle && (!repo || r.repo === repo) && (!tag || r.tag === tag));
}
