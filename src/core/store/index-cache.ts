import { createHash } from 'node:crypto';
import { readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isTempName, writeAtomic } from '../../lib/atomic-write.js';
import { aimHome } from '../../settings/home.js';

// A local copy of a repository's index files, so that a push or pull reads from the store only the index files it
// has not seen: a big repository's index is megabytes (a file naming 100,000 chunks is about 9 MB), read before
// every transfer. Safe because an index file never changes: it is named at random when written and is only ever
// replaced by a new name. A cached copy that does not read as an index is fetched again; files the repository no
// longer lists are dropped from the cache. `aim verify` does not use it: it checks the repository's own files.

const ID = /^([0-9a-f]{32})\.json$/;
const STALE_TEMP_MS = 60 * 60 * 1000;

async function isOlderThan(path: string, ms: number): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  return info !== undefined && Date.now() - info.mtimeMs > ms;
}

export class IndexCache {
  constructor(readonly folder: string) {}

  /**
   * The cache of the repository at `location`, under AIM_HOME. Two stores known by one location (a bucket of the
   * same name on two endpoints) share it: each load then drops the other's copies, which costs downloads, never a
   * wrong answer (index files are named at random).
   */
  static forRepository(location: string): IndexCache {
    const id = createHash('sha256').update(location).digest('hex').slice(0, 16);
    return new IndexCache(join(aimHome(), 'cache', 'index', id));
  }

  async get(id: string): Promise<Buffer | undefined> {
    return readFile(this.pathOf(id)).catch(() => undefined);
  }

  /** Best effort: a cache that cannot be written only costs a download next time. */
  async put(id: string, bytes: Uint8Array): Promise<void> {
    await writeAtomic(this.pathOf(id), bytes, { durable: false }).catch(() => undefined);
  }

  /**
   * Drops the copies of index files that are not in `listed` (merged or replaced since), and temporary files an
   * hour old (a process killed while writing a copy; younger ones may be another process's write in progress).
   */
  async keepOnly(listed: Set<string>): Promise<void> {
    const names = await readdir(this.folder).catch(() => [] as string[]);
    for (const name of names) {
      const path = join(this.folder, name);
      const id = ID.exec(name)?.[1];
      if (id && !listed.has(id)) await unlink(path).catch(() => undefined);
      else if (isTempName(name) && (await isOlderThan(path, STALE_TEMP_MS))) await unlink(path).catch(() => undefined);
    }
  }

  private pathOf(id: string): string {
    return join(this.folder, `${id}.json`);
  }
}
