import { lstat, readdir, rmdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Digest } from '../format/digest.js';
import type { ProgressSink } from '../progress.js';
import { servingFolder } from '../serve/serving-folder.js';
import type { Repository } from '../store/repository.js';
import { pull, type PullResult } from '../transfer/pull.js';
import type { FileSelection } from '../transfer/subset.js';
import { removeEmptyFolders } from '../../lib/safe-fs.js';
import { lockVersionFolder, modelFolders } from './release.js';

// The one way a version lands under AIM_HOME, for `run`, `install` and `update` alike: in its folder keyed by
// digest, with the other versions of the same model pulled there offering their chunks, so a new version moves only
// the chunks that changed.

export interface HomePullOptions {
  home: string;
  select?: FileSelection;
  progress?: ProgressSink;
  /** Told when the pull waits for another command writing the version's folder, and every 10 s while it does. */
  onLockWait?: (line: string) => void;
}

export async function pullIntoHome(
  repository: Repository,
  model: string,
  digest: Digest,
  options: HomePullOptions,
  whileHeld?: (pulled: PullResult) => Promise<void>,
): Promise<PullResult> {
  const dest = servingFolder(options.home, repository.name, model, digest);
  const siblings = await readdir(dirname(dest)).catch(() => [] as string[]);
  const reuseFrom = siblings.filter((name) => name !== basename(dest)).map((name) => join(dirname(dest), name));
  const hadDest = (await lstat(dest).catch(() => undefined)) !== undefined;
  // Held across the pull and what the caller records once it is done (`whileHeld`: the install record), so that
  // `aim rm` of this version, which takes it too, looks at the records only once they are written.
  const lock = await lockVersionFolder(options.home, dest, { onWait: options.onLockWait });
  let done = false;
  try {
    // AIM_HOME is aim's own folder, not a place for the user's files: what lies there under a version's name
    // (damaged, edited by hand) is replaced, as `aim run` must be able to repair its own copy.
    const pulled = await pull(repository, { model, digest }, dest, { progress: options.progress, reuseFrom, within: options.home, select: options.select, force: true, lock });
    await whileHeld?.(pulled);
    done = true;
    return pulled;
  } finally {
    // A pull that failed before it staged anything leaves no folder of its own behind (the lock made `.aim`): its
    // `.aim/partial` while still held (the next command may be filling it once let go), the rest after.
    const tidy = !done && !hadDest;
    if (tidy) await rmdir(join(dest, '.aim', 'partial')).catch(() => undefined);
    lock.release();
    if (tidy) await removeEmptyFolders([join(dest, '.aim'), dest, ...modelFolders(dest)]);
  }
}
