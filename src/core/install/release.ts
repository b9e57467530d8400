// Whether an installed version's folder may go, and removing it when it may: a folder is kept while another install
// record names the same version or a deployment serves from it (a running llama.cpp maps the file; `aim stop`
// comes first). A removal is of a folder aim made under AIM_HOME, never through a link.
import { rm } from 'node:fs/promises';
import { relative, sep } from 'node:path';
import { realFolder } from '../../lib/safe-fs.js';
import { listDeploymentRecords } from '../serve/deployments.js';
import { servingFolder } from '../serve/serving-folder.js';
import { folderOf, listInstallRecords, referenceOf, type InstallRecord } from './records.js';
import { diskUse } from './disk-use.js';

export interface Release {
  folder: string;
  removed: boolean;
  /** Bytes on disk the removal freed (0 when kept). */
  freedBytes: number;
  /** Why it was kept: the other install or the deployment using it. */
  keptFor?: string;
}

/** Whether a deployment serves a file from `folder`. */
export const servesFrom = (deployment: { modelPath: string }, folder: string): boolean =>
  deployment.modelPath === folder || deployment.modelPath.startsWith(folder + sep);

/** Names of the deployments serving from `folder`. */
export async function deploymentsUsing(home: string, folder: string): Promise<string[]> {
  const { records } = await listDeploymentRecords(home);
  return records.filter((r) => servesFrom(r, folder)).map((r) => r.name);
}

/**
 * The version's folder, checked to be real folders all the way down from AIM_HOME: pulls make them so, and a link
 * planted at models/, models/<repo> or below would turn a removal into one outside AIM_HOME. A StorageError if not.
 */
export async function realVersionFolder(home: string, version: Pick<InstallRecord, 'repo' | 'model' | 'digest'>): Promise<string> {
  const folder = servingFolder(home, version.repo, version.model, version.digest);
  return realFolder(home, relative(home, folder).split(sep));
}

/** Removes the folder of `version` unless something still uses it; `ignoreDeployments` for rm --force. */
export async function releaseVersion(
  home: string,
  version: Pick<InstallRecord, 'repo' | 'model' | 'digest'>,
  options: { ignoreDeployments?: boolean } = {},
): Promise<Release> {
  const folder = servingFolder(home, version.repo, version.model, version.digest);
  const other = (await listInstallRecords(home)).records.find((r) => folderOf(home, r) === folder);
  if (other) return { folder, removed: false, freedBytes: 0, keptFor: `still installed as ${referenceOf(other)}` };
  const users = options.ignoreDeployments ? [] : await deploymentsUsing(home, folder);
  if (users.length > 0) return { folder, removed: false, freedBytes: 0, keptFor: `used by deployment ${users.join(', ')}` };
  await realVersionFolder(home, version);
  const freedBytes = (await diskUse([folder])).total;
  await rm(folder, { recursive: true, force: true });
  return { folder, removed: true, freedBytes };
}
