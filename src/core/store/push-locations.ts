import { forEachConcurrently } from '../../lib/concurrently.js';
import type { Digest } from '../format/digest.js';
import type { Manifest } from '../format/manifest.js';
import { INDEX_FILE_FORMAT } from '../format/schemas/store.js';
import { getBounded } from './bounded-read.js';
import { IndexCache } from './index-cache.js';
import { MAX_SHARD_BYTES, SHARD_ENTRIES } from './index-shards.js';
import { isKeyChunk, readKeyObject } from './keys.js';
import { readLocationMap } from './locations.js';
import { indexKey, parseIndexEntries, tryParse, type ChunkLocations, type PackedChunk, type PackEntry, type PackIndex } from './packs.js';
import type { Repository } from './repository.js';

// Where one push learns which chunks the repository already has, without reading the whole index: what a push of a
// model shares with the repository is mostly what its earlier versions hold, and across models what a key chunk's
// shard names. So a push knows, in this order:
//  a. the packs it stored, and those it took back from killed pushes (pending.ts);
//  b. the location maps of the model's newest tagged versions (read at its first question) and of the versions
//     the stat cache vouches for;
//  c. for a key chunk it does not know yet, the shard its key object names, whole (the chunk's neighbours);
//  d. a related version without a map (pushed by an older aim): the whole index, once, as before maps existed.
// What it holds is bounded by the model's versions and MAX_SHARDS shards, not by the repository.

/** Tagged versions of the model whose maps a push reads. */
const RELATED_VERSIONS = 32;
/**
 * Chunks a push learns from those maps (~200 bytes each held): the newest versions are read until this many are
 * known, so 32 versions of a big model that share few chunks do not take a push past its memory bound.
 */
export const MAX_RELATED_CHUNKS = 1_000_000;
/**
 * Shards one push learns through key chunks: about 3 MB and 32,768 entries each, so memory stays bounded (32 such
 * shards took a push to a peak RSS of 527 MiB even read one at a time; 16, to 319).
 */
export const MAX_SHARDS = 16;

export class PushLocations implements ChunkLocations {
  private readonly chunks = new Map<Digest, PackedChunk>();
  private related?: Promise<void>;
  private legacy?: Promise<void>;
  /** The whole index, once a version without a map made the push read it. */
  private wholeIndex?: PackIndex;
  private readonly versionsLearned = new Map<Digest, Promise<void>>();
  private readonly keysAsked = new Map<Digest, Promise<void>>();
  private readonly keysInFlight = new Set<Promise<void>>();
  private readonly shards = new Set<string>();
  private shardReads: Promise<void> = Promise.resolve();
  private avoided: ReadonlySet<string> = new Set();
  constructor(
    private readonly repo: Repository,
    private readonly model: string,
    private readonly note: (message: string) => void,
    /** Local copies of shards: index files never change, so one read before is not read again. */
    private readonly cache: IndexCache = IndexCache.forRepository(repo.location),
    private readonly maxRelatedChunks = MAX_RELATED_CHUNKS,
  ) {}

  get size(): number {
    return this.chunks.size + (this.wholeIndex?.size ?? 0);
  }

  lookup(digest: Digest): PackedChunk | undefined {
    const found = this.chunks.get(digest) ?? this.wholeIndex?.lookup(digest);
    return found && this.avoided.has(found.pack) ? undefined : found;
  }

  /** Packs a gc may be removing: a chunk found only there is stored again. */
  avoid(packs: ReadonlySet<string>): void {
    this.avoided = packs;
  }

  /**
   * A pack this push stored or took back: where its chunks are, ahead of what a map or shard said (a chunk sent again
   * because what they said did not fit is found where this push put it).
   */
  learn(pack: string, entries: Iterable<PackEntry>): void {
    for (const { digest, offset, size } of entries) this.chunks.set(digest, { pack, offset, size });
  }

  /**
   * True when the repository is known to hold the chunk whole: learned from what this push stored, the model's
   * versions, or the shard a key chunk names. A chunk found nowhere is stored again, which is never wrong.
   */
  async has(digest: Digest, size: number): Promise<boolean> {
    if (!this.lookup(digest)) await (this.related ??= this.learnRelated());
    if (!this.lookup(digest) && isKeyChunk(digest)) await this.learnFromKey(digest);
    // The chunks just after a key chunk are asked about while its shard is read: they are likely in it.
    if (!this.lookup(digest) && this.keysInFlight.size > 0) await Promise.all(this.keysInFlight);
    return this.lookup(digest)?.size === size;
  }

  /**
   * Makes sure every chunk of `manifest` is located, so that its location map can be written: from the versions
   * `vouchers` (whose manifests the stat cache trusts for some files), then the model's versions, then the whole
   * index. Returns false when a chunk is still unknown.
   */
  async locateAll(manifest: Manifest, vouchers: Iterable<Digest>): Promise<boolean> {
    const located = (): boolean => manifest.files.every((file) => file.chunks.every((chunk) => this.lookup(chunk.digest) !== undefined));
    if (located()) return true;
    await forEachConcurrently(vouchers, 8, (digest) => this.learnVersion(digest));
    if (located()) return true;
    await (this.related ??= this.learnRelated());
    if (located()) return true;
    await this.learnWholeIndex('some chunks of this version are named by no location map');
    return located();
  }

  /** The map of one version; the whole index when it has none (pushed by an older aim). Best effort. */
  private learnVersion(digest: Digest): Promise<void> {
    let learning = this.versionsLearned.get(digest);
    if (!learning) {
      learning = this.readMap(digest).then((mapped) => (mapped ? undefined : this.learnWholeIndex(`version ${digest} has no location map`)));
      this.versionsLearned.set(digest, learning);
    }
    return learning;
  }

  /** Learns the map of version `digest`; false when it has none that covers it. */
  private async readMap(digest: Digest): Promise<boolean> {
    try {
      const manifest = await this.repo.getManifest(digest);
      const map = await readLocationMap(this.repo.backend, digest, manifest);
      if (!map) return false;
      for (const file of manifest.files) for (const { digest: chunk } of file.chunks) this.learnOne(chunk, map.lookup(chunk));
      return true;
    } catch {
      return true; // a version that does not read (damaged, deleted meanwhile) just offers nothing to dedupe against
    }
  }

  private learnOne(digest: Digest, at: PackedChunk | undefined): void {
    if (at && !this.chunks.has(digest)) this.chunks.set(digest, at);
  }

  private learnShard(packs: Map<string, PackEntry[]>): void {
    for (const [pack, entries] of packs) for (const { digest, offset, size } of entries) this.learnOne(digest, { pack, offset, size });
  }

  /** The maps of the model's newest tagged versions, several at once, until MAX_RELATED_CHUNKS are known. */
  private async learnRelated(): Promise<void> {
    const tags = await this.repo.listTags(this.model).catch(() => []);
    const newest = new Set(tags.reverse().map((tag) => tag.digest));
    await forEachConcurrently([...newest].slice(0, RELATED_VERSIONS), 8, async (digest) => {
      if (this.chunks.size < this.maxRelatedChunks) await this.learnVersion(digest);
    });
  }

  /**
   * Every chunk the index names, read once: for a repository whose versions predate location maps. Best effort: an
   * index that does not read costs this push its dedupe (it sends those chunks again), with a note saying why.
   */
  private learnWholeIndex(why: string): Promise<void> {
    this.legacy ??= (async () => {
      this.note(`${why}: reading the whole index (run \`aim repo upgrade ${this.repo.name}\` to write the maps)`);
      this.wholeIndex = await this.repo.packIndex().catch((error: Error) => {
        this.note(`the index does not read, so nothing is deduplicated against it: ${error.message}`);
        return undefined;
      });
    })();
    return this.legacy;
  }

  /** The shard a key chunk's key object names, whole. Best effort: a key that does not read offers no dedupe. */
  private learnFromKey(digest: Digest): Promise<void> {
    let asking = this.keysAsked.get(digest);
    if (!asking) {
      asking = (async () => {
        const shard = await readKeyObject(this.repo.backend, digest);
        if (!shard || this.shards.has(shard) || this.shards.size >= MAX_SHARDS) return;
        this.shards.add(shard);
        // One shard read and parsed at a time: 32 at once held ~20 MB of text and parsed copies each (peak 600 MiB).
        const reading = this.shardReads.then(async () => this.learnShard(await this.readShard(shard)));
        this.shardReads = reading.catch(() => undefined);
        await reading;
      })().catch(() => undefined);
      const inFlight = asking.finally(() => this.keysInFlight.delete(inFlight));
      this.keysInFlight.add(inFlight);
      this.keysAsked.set(digest, asking);
    }
    return asking;
  }

  /**
   * An index file named by a key object, at most as big (and naming at most as many chunks) as a shard aim writes.
   * A local copy is used only while the repository still has the file: one a repair replaced may name chunks it
   * dropped.
   */
  private async readShard(id: string): Promise<Map<string, PackEntry[]>> {
    const key = indexKey(id);
    const where = `${key} in ${this.repo.location}`;
    const info = await this.repo.backend.stat(key);
    if (!info || info.size > MAX_SHARD_BYTES) return new Map();
    const cached = await this.cache.get(id);
    const fromCache = cached?.length === info.size ? tryParse(() => parseIndexEntries(cached, where)) : undefined;
    let packs = fromCache;
    if (!packs) {
      const bytes = await getBounded(this.repo.backend, key, { ...INDEX_FILE_FORMAT, maxBytes: MAX_SHARD_BYTES }, where);
      packs = parseIndexEntries(bytes, where);
      await this.cache.put(id, bytes);
    }
    // No shard aim writes names more: a planted one of many tiny entries is not learned.
    if ([...packs.values()].reduce((sum, entries) => sum + entries.length, 0) > SHARD_ENTRIES) return new Map();
    return packs;
  }
}
