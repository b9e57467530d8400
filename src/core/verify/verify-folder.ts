// `aim verify DIR`: re-hash the files of a pulled folder against the manifest it records in DIR/.aim. A subset pull
// (--include/--exclude/--quant) is verified as what it is: the files it took are checked, the others are listed as
// left out, not as missing.
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError } from '../../lib/errors.js';
import type { Digest } from '../format/digest.js';
import { HashPool } from '../hashing/hash-pool.js';
import { loadInstallState, loadInstalledManifest } from '../transfer/install-state.js';
import type { SubsetRecord } from '../transfer/subset.js';
import { verifyFileOnDisk } from './verify-file.js';

export interface FolderVerification {
  folder: string;
  digest: Digest;
  /** Present when the folder holds only some files of the version. */
  subset?: SubsetRecord & { files: number; versionFiles: number };
  filesChecked: number;
  bytesChecked: number;
  /** Files the folder should hold that are not there, or that differ from the manifest. */
  missing: string[];
  corrupt: string[];
}

export async function verifyFolder(folder: string): Promise<FolderVerification> {
  const manifest = await loadInstalledManifest(folder);
  const state = await loadInstallState(folder);
  if (!manifest || !state.manifest) {
    throw new NotFoundError(`${folder} holds no version aim pulled (no readable .aim/manifest.json, or a pull into it did not finish)`, { hint: 'pull into it again, or verify a repository with `aim verify REPO`' });
  }
  const expected = state.subset ? manifest.files.filter((f) => state.files[f.path] !== undefined) : manifest.files;
  const result: FolderVerification = { folder, digest: state.manifest, filesChecked: 0, bytesChecked: 0, missing: [], corrupt: [] };
  if (state.subset) result.subset = { ...state.subset, files: expected.length, versionFiles: manifest.files.length };
  const pool = new HashPool();
  try {
    for (const file of expected) {
      const path = join(folder, ...file.path.split('/'));
      if (await verifyFileOnDisk(path, file, pool)) {
        result.filesChecked++;
        result.bytesChecked += file.size;
      } else {
        const present = await lstat(path).then(() => true, () => false);
        (present ? result.corrupt : result.missing).push(file.path);
      }
    }
  } finally {
    await pool.close();
  }
  return result;
}
