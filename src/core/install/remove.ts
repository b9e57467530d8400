// `aim rm NAME`: forget installed versions and free their folders. A version a deployment serves from is refused,
// naming the deployment; --force removes it anyway and stops nothing (on Linux a running llama.cpp keeps the
// mapped file until it exits, then the space is freed).
import { ConflictError } from '../../lib/errors.js';
import { matchInstalled } from './match.js';
import { folderOf, listInstallRecords, referenceOf, removeInstallRecordUnlessMoved } from './records.js';
import { deploymentsUsing, lockVersionFolder, realVersionFolder, releaseVersion, type Release } from './release.js';

export interface Removed extends Release {
  reference: string;
  /** Deployments still serving from the removed files (only with --force). */
  stillRunning: string[];
}

export async function removeInstalled(home: string, text: string, options: { force?: boolean } = {}): Promise<Removed[]> {
  const matched = matchInstalled((await listInstallRecords(home)).records, text);
  const users = new Map(await Promise.all(matched.map(async (r) => [r, await deploymentsUsing(home, folderOf(home, r))] as const)));
  const busy = matched.filter((r) => users.get(r)!.length > 0);
  if (busy.length > 0 && !options.force) {
    const names = [...new Set(busy.flatMap((r) => users.get(r)!))];
    throw new ConflictError(`${busy.map(referenceOf).join(', ')} is in use by deployment ${names.join(', ')}`, {
      hint: `stop it first (\`aim stop ${names[0]}\`), or pass --force to remove the files anyway (it stops nothing)`,
    });
  }
  // Every folder checked before any record goes, so a refused one leaves the installs as they were.
  for (const record of matched) await realVersionFolder(home, record);
  const removed: Removed[] = [];
  for (const listed of matched) {
    let record = listed;
    for (;;) {
      // An install or update writing this version is waited for: the record goes after it, with the folder.
      const lock = await lockVersionFolder(home, folderOf(home, record));
      try {
        // One that moved the tag to another version meanwhile left its record naming that one: its folder goes too,
        // and this one as that install would release it (made again, empty, by the lock if it did so already).
        const now = await removeInstallRecordUnlessMoved(home, record);
        if (now) {
          await releaseVersion(home, record, { ignoreDeployments: options.force, lock });
          record = now;
          continue;
        }
        const release = await releaseVersion(home, record, { ignoreDeployments: options.force, lock });
        removed.push({ reference: referenceOf(record), ...release, stillRunning: users.get(listed)! });
        break;
      } finally {
        lock.release();
      }
    }
  }
  return removed;
}
