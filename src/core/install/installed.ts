// `aim installed` (`aim list --installed`): what is installed under AIM_HOME, with the bytes each takes on disk.
import type { InstalledListing } from './records.js';
import { folderOf, listInstallRecords, referenceOf } from './records.js';
import { diskUse } from './disk-use.js';
import { listDeploymentRecords } from '../serve/deployments.js';
import { servesFrom } from './release.js';

export interface InstalledModel {
  reference: string;
  repo: string;
  model: string;
  tag?: string;
  digest: string;
  folder: string;
  installedAt: string;
  updatedAt?: string;
  subset?: { include: string[]; exclude: string[]; quant?: string };
  /** Bytes on disk of its folder (a version installed under two tags is one folder). */
  diskBytes: number;
  /** Deployments serving from it. */
  usedBy: string[];
}

export interface InstalledReport {
  models: InstalledModel[];
  /** Every folder together, each file counted once. */
  totalDiskBytes: number;
  /** Records that could not be read: `file: why`. */
  problems: string[];
}

export async function listInstalled(home: string): Promise<InstalledReport> {
  const listing: InstalledListing = await listInstallRecords(home);
  const folders = listing.records.map((r) => folderOf(home, r));
  const use = await diskUse(folders);
  const deployments = (await listDeploymentRecords(home)).records;
  const models = listing.records.map((record, i): InstalledModel => {
    const folder = folders[i]!;
    const usedBy = deployments.filter((d) => servesFrom(d, folder)).map((d) => d.name);
    return { reference: referenceOf(record), ...record, folder, diskBytes: use.perFolder.get(folder) ?? 0, usedBy };
  });
  return { models, totalDiskBytes: use.total, problems: listing.problems.map((p) => p.message) };
}
