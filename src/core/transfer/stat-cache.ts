import { readdir, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createHash } from 'node:crypto';
import { writeAtomic } from '../../lib/atomic-write.js';
import { readRegularFileIfExists, realFolder } from '../../lib/safe-fs.js';
import { aimHome } from '../../settings/home.js';
import * as v from 'valibot';
import type { Digest } from '../format/digest.js';
import { STAT_CACHE_FORMAT, statCacheEntrySchema, statCacheSchema } from '../format/schemas/local-state.js';
import { parseJsonOrUndefined } from '../format/schemas/parse.js';
import { isPlainStatEntry } from '../format/stat-entry-plain.js';
import type { ManifestFile } from '../format/manifest.js';
import type { SourceFile } from './walk.js';

// Like git's index and restic's parent snapshot: a file whose path, size, mtime, ctime and inode have not changed
// since it was last pushed to this repository is not read again; its chunk list is reused. The ctime matters: an
// edit that keeps the size and puts the mtime back (touch -r, some editors and sync tools) changes only the ctime,
// which no one can set back. An entry without a ctime (written before it was recorded) is not trusted. `--rehash` ignores the cache. It is
// only a cache: losing it costs one re-read, so it is written without fsync. Each entry also names the manifest the
// push committed: a manifest is written only once all its chunks are stored, so while it is still in the repository
// the file's chunks need no check one by one (70,000 HEAD requests for a 70 GB model on S3).
// A repository deleted and created again at the same place holds none of the chunks an older cache names: each
// creation (aim-repo.json's createdAt) has cache files of its own, and saving one removes those of the others, so
// a push into a new repository neither reads nor checks what was pushed to the one before.
// Each folder (or file) pushed has a cache file of its own: a push reads the entries of what it pushes, not of every
// file ever pushed to the repository from this machine (one file for all made an unchanged re-push of a 1 GiB model
// parse 5 MB of entries for another model's 10,000 files first).

interface Entry {
  size: number;
  mtimeMs: number;
  /** Absent in entries written before ctime was recorded: such an entry never matches. */
  ctimeMs?: number;
  ino: number;
  chunking: string;
  file: ManifestFile;
  /** A committed manifest holding this file's chunk list, and the repository's removal mark at the time. */
  manifest?: Digest;
  removals?: string;
}

export interface CachedFile {
  file: ManifestFile;
  manifest?: Digest;
  /** The repository's removal mark when `manifest` was committed (Repository.removalMark). */
  removals?: string;
}

export class StatCache {
  private entries: Record<string, unknown> = {};
  /** Paths whose entry passed its schema (or was recorded by this push). */
  private readonly checked = new Set<string>();
  private readonly recorded: string[] = [];
  private dirty = false;

  private constructor(
    private readonly home: string,
    private readonly path: string,
    private readonly chunking: string,
  ) {}

  /**
   * `source`: the absolute path pushed, whose files the cache describes. `createdAt`: when the repository was created
   * (its aim-repo.json), telling it from one created there before.
   */
  static async open(repoLocation: string, source: string, chunking: object, createdAt = ''): Promise<StatCache> {
    const location = shortHash(repoLocation, 16);
    const creation = shortHash(createdAt, 8);
    const home = aimHome();
    // The chunking by a digest of its settings, not their text: each of thousands of entries names it.
    const settings = shortHash(JSON.stringify(chunking), 16);
    const cache = new StatCache(home, join(home, 'cache', 'stat', `${location}.${creation}.${shortHash(source, 16)}.json`), settings);
    // Only through real folders of AIM_HOME and from a regular file: a link or FIFO there is no cache of ours.
    const bytes = await realFolder(home, ['cache', 'stat'])
      .then(() => readRegularFileIfExists(cache.path, STAT_CACHE_FORMAT.maxBytes))
      .catch(() => undefined);
    cache.entries = parseJsonOrUndefined(statCacheSchema, bytes, STAT_CACHE_FORMAT) ?? {};
    return cache;
  }

  /** The manifest entry recorded for this exact file, if nothing about it changed. */
  lookup(source: SourceFile): CachedFile | undefined {
    const entry = this.entry(source.absolute);
    // Paths and modes may differ between pushes of the same bytes; the cached entry carries only the content.
    if (!entry || !this.describes(entry, source)) return undefined;
    return { file: { ...entry.file, path: source.path, mode: source.mode }, manifest: entry.manifest, removals: entry.removals };
  }

  /**
   * Records what a push read; `committed` later names the manifest once it is written. An entry that already says
   * the same is kept as it is, so an unchanged re-push does not rewrite the cache (a 2 GiB file's entry lists thousands
   * of chunks, and rewriting them would be a large share of such a push).
   */
  record(source: SourceFile, file: ManifestFile): void {
    const previous = this.entry(source.absolute);
    if (!previous || !this.describes(previous, source) || !sameContent(previous.file, file)) {
      const { size, mtimeMs, ctimeMs, ino } = source;
      this.entries[source.absolute] = { size, mtimeMs, ctimeMs, ino, chunking: this.chunking, file };
      this.checked.add(source.absolute);
      this.dirty = true;
    }
    this.recorded.push(source.absolute);
  }

  /**
   * The entry for a path, checked on first use (a cache names every file ever pushed; most are never looked up).
   * One that does not read is forgotten, which costs a read of the file.
   */
  private entry(path: string): Entry | undefined {
    if (this.checked.has(path)) return this.entries[path] as Entry;
    if (!Object.hasOwn(this.entries, path)) return undefined;
    const value = this.entries[path];
    // As push wrote it, taken as it is; anything else goes to the schema (stat-entry-plain.ts).
    if (!isPlainStatEntry(value)) {
      const result = v.safeParse(statCacheEntrySchema, value);
      if (!result.success) return void delete this.entries[path];
      this.entries[path] = result.output;
    }
    this.checked.add(path);
    return this.entries[path] as Entry;
  }

  /** Whether the entry was recorded for this file as it is now (path, size, mtime, ctime, inode) and this chunking. */
  private describes(entry: Entry, source: SourceFile): boolean {
    const same = entry.size === source.size && entry.mtimeMs === source.mtimeMs && entry.ctimeMs === source.ctimeMs && entry.ino === source.ino;
    return same && entry.chunking === this.chunking;
  }

  committed(manifest: Digest, removals: string | undefined): void {
    for (const path of this.recorded) {
      const entry = this.entries[path] as Entry;
      if (entry.manifest === manifest && entry.removals === removals) continue;
      Object.assign(entry, { manifest, removals });
      this.dirty = true;
    }
  }

  async save(): Promise<void> {
    if (!this.dirty) return;
    await writeAtomic(this.path, JSON.stringify(this.entries), { durable: false, root: this.home }).catch(() => undefined);
    await this.removeOtherCreations();
  }

  /**
   * Best effort: the cache files of this location's earlier repositories, and those older aims named otherwise (one
   * file for every folder pushed, or one for every creation too). This creation's files of other folders stay.
   */
  private async removeOtherCreations(): Promise<void> {
    // Only in AIM_HOME's real folder: through a link planted at cache/stat, these names would be someone else's files.
    const folder = await realFolder(this.home, ['cache', 'stat']).catch(() => undefined);
    if (!folder) return;
    const [location, creation] = basename(this.path).split('.');
    const names = await readdir(folder).catch(() => []);
    const stale = (name: string) => {
      const parts = name.split('.');
      return parts[0] === location && parts.at(-1) === 'json' && (parts.length !== 4 || parts[1] !== creation);
    };
    await Promise.all(names.filter(stale).map((name) => unlink(join(folder, name)).catch(() => undefined)));
  }
}

const shortHash = (text: string, length: number): string => createHash('sha256').update(text).digest('hex').slice(0, length);

/** Whether two manifest entries name the same bytes cut the same way (a damaged entry is replaced by what was read). */
function sameContent(a: ManifestFile, b: ManifestFile): boolean {
  return a.digest === b.digest && a.chunks.length === b.chunks.length && a.chunks.every((chunk, index) => chunk.digest === b.chunks[index]!.digest);
}
