import { ConflictError, IntegrityError } from '../../lib/errors.js';
import { log } from '../../lib/log.js';
import type { Digest } from '../format/digest.js';
import { listGcRecordKeys } from '../gc/gc-records.js';
import type { ProgressSink } from '../progress.js';
import type { Repository } from '../store/repository.js';

// A gc may repack the packs a pull is reading while it runs, as restic's prune may under a restore. The version is
// still tagged, so its chunks live on in new packs, and gc rewrites the version's location map to name them before
// it deletes the old packs (gc.ts). The pull read that map when it started, so it finds chunks missing. Then, when
// the repository holds a gc record (gc/<id>.json, written before gc removes anything), the pull stages its files
// again, once, from the map as it is now: files already built in .aim/partial are checked on disk, not fetched
// again. A second failure while yet another gc started means the chunks moved twice under the same pull: it stops
// with a ConflictError and a rerun finishes. Without a new gc the chunks are really missing, and the repository's
// own error stands (it names the chunk and says to verify).

/** Runs `stage` (which reads the version's locations anew each time), again once if a gc moved its chunks meanwhile. */
export async function stageFollowingGc<T>(repo: Repository, digest: Digest, progress: ProgressSink, stage: () => Promise<T>): Promise<T> {
  let recordsBefore: string[];
  try {
    return await stage();
  } catch (error) {
    if (!(error instanceof IntegrityError)) throw error;
    recordsBefore = await gcRecordKeys(repo);
    if (recordsBefore.length === 0) throw error;
    log.info('pull found chunks missing after a gc: reading their locations again', { repo: repo.name, digest, error: error.message });
    progress.note(`chunks of ${digest} were not where they were (\`aim gc\` repacked them): reading where they are now`);
  }
  try {
    return await stage();
  } catch (error) {
    if (!(error instanceof IntegrityError)) throw error;
    const known = new Set(recordsBefore);
    if ((await gcRecordKeys(repo)).every((key) => known.has(key))) throw error;
    throw new ConflictError(`the chunks of version ${digest} in ${repo.name} moved twice (\`aim gc\`) while it was pulled`, {
      hint: 'run the pull again: what was written is kept',
    });
  }
}

/** The gc records present; none when they cannot be listed (then the pull's own error stands). */
async function gcRecordKeys(repo: Repository): Promise<string[]> {
  return listGcRecordKeys(repo.backend).catch(() => []);
}
