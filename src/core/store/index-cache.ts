import { createHash } from 'node:crypto';
import { readdir, stat, unlink } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { isTempName, writeAtomic } from '../../lib/atomic-write.js';
import { readRegularFile, realFolder } from '../../lib/safe-fs.js';
import { aimHome } from '../../settings/home.js';
import { INDEX_FILE_FORMAT } from '../format/schemas/store.js';

// A local copy of a repository's index files, so that a push or pull reads from the store only the index files it
// has not seen: a big repository's index is megabytes (a file naming 100,000 chunks is about 9 MB), read before
// every transfer. Safe because an index file never changes: it is named at random when written and is only ever
// replaced by a new name. A cached copy that does not read as an index is fetched again; files the repository no
// longer lists are dropped from the cache. `aim verify` does not use it: it checks the repository's own files.
// The cache is reached through real folders of AIM_HOME only, and holds regular files only: a link planted there
// is no cache of ours, so nothing is read, written or deleted through it.

const ID = /^([0-9a-f]{32})\.json$/;
const STALE_TEMP_MS = 60 * 60 * 1000;

async function isOlderThan(path: string, ms: number): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  return info !== undefined && Date.now() - info.mtimeMs > ms;
}

export class IndexCache {
  /** The folders from `home` down to the cache's, each to be a real folder, never a link. */
  private readonly parts: string[];

  /** A cache in `folder`, which lies in `home` (AIM_HOME; the folder itself by default). */
  constructor(
    readonly folder: string,
    private readonly home: string = folder,
  ) {
    this.parts = relative(home, folder).split(sep).filter(Boolean);
  }

  /**
   * The cache of the repository at `location`, under AIM_HOME. Two stores known by one location (a bucket of the
   * same name on two endpoints) share it: each load then drops the other's copies, which costs downloads, never a
   * wrong answer (index files are named at random).
   */
  static forRepository(location: string): IndexCache {
    const id = createHash('sha256').update(location).digest('hex').slice(0, 16);
    const home = aimHome();
    return new IndexCache(join(home, 'cache', 'index', id), home);
  }

  async get(id: string): Promise<Buffer | undefined> {
    return realFolder(this.home, this.parts)
      .then(() => readRegularFile(this.pathOf(id), INDEX_FILE_FORMAT.maxBytes))
      .catch(() => undefined);
  }

  /** Best effort: a cache that cannot be written only costs a download next time. */
  async put(id: string, bytes: Uint8Array): Promise<void> {
    await writeAtomic(this.pathOf(id), bytes, { durable: false, root: this.home }).catch(() => undefined);
  }

  /**
   * Drops the copies of index files that are not in `listed` (merged or replaced since), and temporary files an
   * hour old (a process killed while writing a copy; younger ones may be another process's write in progress).
   */
  async keepOnly(listed: Set<string>): Promise<void> {
    const real = await realFolder(this.home, this.parts).then(() => true, () => false);
    const names = real ? await readdir(this.folder).catch(() => [] as string[]) : [];
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
