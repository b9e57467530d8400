import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Digest } from '../format/digest.js';
import type { ProgressSink } from '../progress.js';
import { servingFolder } from '../serve/serving-folder.js';
import type { Repository } from '../store/repository.js';
import { pull, type PullResult } from '../transfer/pull.js';
import type { FileSelection } from '../transfer/subset.js';

// The one way a version lands under AIM_HOME, for `run`, `install` and `update` alike: in its folder keyed by
// digest, with the other versions of the same model pulled there offering their chunks, so a new version moves only
// the chunks that changed.

export interface HomePullOptions {
  home: string;
  select?: FileSelection;
  progress?: ProgressSink;
}

export async function pullIntoHome(repository: Repository, model: string, digest: Digest, options: HomePullOptions): Promise<PullResult> {
  const dest = servingFolder(options.home, repository.name, model, digest);
  const siblings = await readdir(dirname(dest)).catch(() => [] as string[]);
  const reuseFrom = siblings.filter((name) => name !== basename(dest)).map((name) => join(dirname(dest), name));
  // AIM_HOME is aim's own folder, not a place for the user's files: what lies there under a version's name (damaged,
  // edited by hand) is replaced, as `aim run` must be able to repair its own copy.
  return pull(repository, { model, digest }, dest, { progress: options.progress, reuseFrom, within: options.home, select: options.select, force: true });
}
