// Whether an installed version's folder may go, and removing it when it may: a folder is kept while another install
// record names the same version or a deployment serves from it (a running llama.cpp maps the file; `aim stop`
// comes first). A removal is of a folder aim made under AIM_HOME, never through a link.
import { readdir, rm } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { realFolder, removeEmptyFolders } from '../../lib/safe-fs.js';
import { listDeploymentRecords } from '../serve/deployments.js';
import { servingFolder } from '../serve/serving-folder.js';
import { folderOf, listInstallRecords, referenceOf, type InstallRecord } from './records.js';
import { diskUse } from './disk-use.js';
import { lockDestination, type DestinationLock, type LockOptions } from '../transfer/dest-lock.js';

export interface ReleaseOptions {
  /** Remove it even while a deployment serves from it (rm --force). */
  ignoreDeployments?: boolean;
  /** The folder's lock, already held by the caller (which lets go of it). */
  lock?: DestinationLock;
}

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

/** The lock of a version's folder under AIM_HOME (dest-lock.ts), every folder from AIM_HOME down a real one. */
export function lockVersionFolder(home: string, folder: string, options: LockOptions = {}): Promise<DestinationLock> {
  return lockDestination(home, [...relative(home, folder).split(sep), '.aim'], options);
}

/**
 * Removes the folder of `version` unless something still uses it; `ignoreDeployments` for rm --force. A command
 * writing the folder (an install or repair of that version, which holds its lock) is waited for, then what uses the
 * folder is looked at again: an install that finished meanwhile keeps it. `lock`: the folder's lock, taken by the
 * caller; it is let go of here once the folder is emptied (a second release is a no-op).
 */
export async function releaseVersion(home: string, version: Pick<InstallRecord, 'repo' | 'model' | 'digest'>, options: ReleaseOptions = {}): Promise<Release> {
  const folder = servingFolder(home, version.repo, version.model, version.digest);
  const kept = await keptFor(home, folder, options);
  if (kept) return { folder, removed: false, freedBytes: 0, keptFor: kept };
  await realVersionFolder(home, version);
  const lock = options.lock ?? (await lockVersionFolder(home, folder));
  try {
    const keptNow = options.lock ? undefined : await keptFor(home, folder, options);
    if (keptNow) return { folder, removed: false, freedBytes: 0, keptFor: keptNow };
    const freedBytes = (await diskUse([folder])).total;
    // All but the lock, which goes last, as the holder lets go: a command that was waiting for it and takes it at
    // once keeps its lock and its (now empty) folder, where a recursive removal could take its lock file from it.
    await emptyAllButLock(folder);
    lock.release();
    await removeEmptyFolders([join(folder, '.aim'), folder, ...modelFolders(folder)]);
    return { folder, removed: true, freedBytes };
  } finally {
    lock.release();
  }
}

async function emptyAllButLock(folder: string): Promise<void> {
  const aim = join(folder, '.aim');
  for (const name of await readdir(folder)) if (name !== '.aim') await rm(join(folder, name), { recursive: true, force: true });
  for (const name of await readdir(aim).catch(() => [] as string[])) if (name !== 'lock') await rm(join(aim, name), { recursive: true, force: true });
}

/**
 * `models/<repo>/<model>` and `models/<repo>` above a version's folder: left empty once their last version goes. An
 * install making one again meanwhile finds it gone and looks again (dest-lock.ts).
 */
export const modelFolders = (versionFolder: string): string[] => [dirname(versionFolder), dirname(dirname(versionFolder))];

/** Why `folder` must stay: another install record naming it, or a deployment serving from it; undefined if neither. */
async function keptFor(home: string, folder: string, options: { ignoreDeployments?: boolean }): Promise<string | undefined> {
  const other = (await listInstallRecords(home)).records.find((r) => folderOf(home, r) === folder);
  if (other) return `still installed as ${referenceOf(other)}`;
  const users = options.ignoreDeployments ? [] : await deploymentsUsing(home, folder);
  return users.length > 0 ? `used by deployment ${users.join(', ')}` : undefined;
}
