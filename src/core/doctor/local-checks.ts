// `aim doctor` on this machine's state: AIM_HOME writable with room for models, and what killed pulls left behind
// (partial files and journals in `.aim/partial` of AIM_HOME's versions and of the destinations named, and temp
// files of interrupted atomic writes). Nothing is followed through a link and nothing is changed but the probe file.
import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { access, lstat, open, readdir, stat, statfs, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isTempName } from '../../lib/atomic-write.js';
import { testFreeBytes } from '../../settings/test-hooks.js';
import { partialFolder } from '../transfer/install-state.js';
import { fail, failureOf, ok, warn, type Finding } from './finding.js';

const GiB = 1024 ** 3;
/** Below this a model of any use no longer fits. */
const FAIL_FREE_BYTES = 1 * GiB;
/** Below this a 7B model at 8 bits hardly fits with its previous version beside it. */
const WARN_FREE_BYTES = 10 * GiB;
/** Folders visited under AIM_HOME looking for leftovers: deep enough for models/<repo>/<model>/<digest>/.aim/partial. */
const MAX_DEPTH = 8;
const MAX_ENTRIES = 200_000;

const gib = (bytes: number): string => `${(bytes / GiB).toFixed(1)} GiB`;

/** The folder itself when it exists, else its nearest existing parent: where it would be created. */
async function nearestExisting(path: string): Promise<string> {
  for (let current = path; ; current = dirname(current)) {
    if (await lstat(current).then(() => true, () => false)) return current;
    if (dirname(current) === current) return current;
  }
}

async function writableFinding(home: string, existing: string): Promise<Finding> {
  if (existing !== home) {
    const info = await stat(existing).catch(() => undefined);
    const creatable = info?.isDirectory() && (await access(existing, constants.W_OK).then(() => true, () => false));
    return creatable
      ? ok('AIM_HOME writable', `${home} does not exist yet; it will be created under ${existing}`)
      : fail('AIM_HOME writable', `${home} cannot be created: ${existing} is not a writable folder`, 'point AIM_HOME at a folder this user can write, or create it');
  }
  const probe = join(home, `.aim-doctor-${randomUUID()}.tmp`);
  try {
    await (await open(probe, 'wx')).close();
    await unlink(probe);
    return ok('AIM_HOME writable', `${home} takes a new file`);
  } catch (error) {
    return failureOf('AIM_HOME writable', error, `make ${home} writable by this user, or point AIM_HOME at a folder that is`);
  }
}

async function freeSpaceFinding(home: string, existing: string): Promise<Finding> {
  const check = 'AIM_HOME free space';
  try {
    const stats = await statfs(existing);
    const free = testFreeBytes() ?? stats.bavail * stats.bsize;
    const hint = `free space on the file system of ${existing} (\`aim stop\` unused models, remove old versions under ${join(home, 'models')}), or point AIM_HOME elsewhere`;
    if (free < FAIL_FREE_BYTES) return fail(check, `only ${gib(free)} free for ${home}: models will not fit`, hint);
    if (free < WARN_FREE_BYTES) return warn(check, `${gib(free)} free for ${home}: room for small models only`, hint);
    return ok(check, `${gib(free)} free for ${home}`);
  } catch (error) {
    return failureOf(check, error);
  }
}

export interface Leftovers {
  files: number;
  bytes: number;
  folders: Set<string>;
}

/** Partial files and journals under `.aim/partial`, and temp files of atomic writes, below `root`; links are not followed. */
export async function findLeftovers(root: string, found: Leftovers = { files: 0, bytes: 0, folders: new Set() }): Promise<Leftovers> {
  let visited = 0;
  const visit = async (folder: string, depth: number, inPartial: boolean): Promise<void> => {
    const names = await readdir(folder).catch(() => [] as string[]);
    for (const name of names) {
      if (++visited > MAX_ENTRIES) return;
      const path = join(folder, name);
      const info = await lstat(path).catch(() => undefined);
      if (!info || info.isSymbolicLink()) continue;
      if (info.isDirectory()) {
        if (depth < MAX_DEPTH) await visit(path, depth + 1, inPartial || path === partialFolder(dirname(dirname(path))));
      } else if (info.isFile() && (inPartial || isTempName(name))) {
        found.files += 1;
        found.bytes += info.size;
        found.folders.add(inPartial ? dirname(dirname(folder)) : folder);
      }
    }
  };
  await visit(root, 0, false);
  return found;
}

async function leftoversFinding(home: string, destinations: string[]): Promise<Finding> {
  const found: Leftovers = { files: 0, bytes: 0, folders: new Set() };
  for (const root of [home, ...destinations]) await findLeftovers(root, found);
  if (found.files === 0) return ok('partial downloads', `none under ${[home, ...destinations].join(', ')}`);
  const folders = [...found.folders];
  const size = found.bytes >= GiB ? gib(found.bytes) : `${(found.bytes / 1024 ** 2).toFixed(1)} MiB`;
  return warn('partial downloads', `${found.files} leftover file(s), ${size}, in ${folders.slice(0, 3).join(', ')}${folders.length > 3 ? ` and ${folders.length - 3} more` : ''}`,
    'run the same pull again to resume (the leftovers are reused), or delete the .aim/partial folder to reclaim the space');
}

export async function localFindings(home: string, destinations: string[]): Promise<Finding[]> {
  const existing = await nearestExisting(home);
  return [await writableFinding(home, existing), await freeSpaceFinding(home, existing), await leftoversFinding(home, destinations)];
}
