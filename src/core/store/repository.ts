import { randomUUID } from 'node:crypto';
import { canList, type Backend } from '../../backends/backend.js';
import { publishedModels, publishedTags } from './unlisted.js';
import { DEFAULT_CHUNKING, type ChunkingParams } from '../chunking/chunker.js';
import { assertDigest, digestHex, type Digest } from '../format/digest.js';
import { AimError, IntegrityError, NotFoundError, StorageError } from '../../lib/errors.js';
import { undefinedIfNotFound } from '../../lib/not-found.js';
import { encodeManifest, MANIFEST_FORMAT, manifestDigest, parseManifest, type Manifest } from '../format/manifest.js';
import { checkModelName, checkTagName } from '../format/names.js';
import { MAX_CHUNK_BYTES, MAX_SMALL_FILE_BYTES } from '../format/schemas/limits.js';
import { parseTag, REPO_METADATA_FORMAT, TAG_FORMAT } from '../format/schemas/store.js';
import { LOOSE_FORMAT, PACKED_FORMAT, parseRepoMetadata, type RepoMetadata } from './repo-metadata.js';

export { LOOSE_FORMAT, PACKED_FORMAT, type RepoMetadata };
import { IndexCache } from './index-cache.js';
import { indexKey, packKey, PackIndex, writeIndexFile, type ChunkLocations, type PackEntry } from './packs.js';
import { dropLocationMapsNaming, readLocationMap } from './locations.js';
import { getBounded } from './bounded-read.js';
import { retryUntilStable } from '../../lib/poll.js';
import { counted } from '../../lib/plural.js';
import { compareText } from '../../lib/compare-text.js';

// The repository layout of DESIGN.md on top of a key/value Backend. Blobs and manifests are immutable and named by
// their digest; tags are the only mutable keys. Nothing here knows whether the bytes live in a folder or a bucket.

export interface TagRecord {
  digest: Digest;
  pushedAt: string;
  /** Total bytes of the version's files, for listings that should not fetch every manifest. */
  size: number;
  files: number;
}

/** Rewritten whenever chunks are removed; see Repository.removalMark. */
const REMOVALS_KEY = 'removals';
/** How a removal mark written before chunks are dropped begins. */
const REMOVAL_STARTED = 'started';
const STALE_REMOVAL_MS = 60 * 60 * 1000;
export const blobKey = (digest: Digest): string => `blobs/blake3/${digestHex(digest).slice(0, 2)}/${digestHex(digest)}`;
export const manifestKey = (digest: Digest): string => `manifests/blake3/${digestHex(digest).slice(0, 2)}/${digestHex(digest)}`;
export const tagKey = (model: string, tag: string): string => `models/${checkModelName(model)}/tags/${checkTagName(tag)}`;

export class Repository {
  private index?: Promise<PackIndex>;
  private indexCache?: IndexCache;
  /** Known once metadata was read: a packed repository never looks for loose chunks on push. */
  private packed = false;

  constructor(
    readonly name: string,
    readonly backend: Backend,
    /** Chunks moved at once by push, pull and verify (the repository's `concurrency` setting). */
    readonly concurrency = 8,
    /** Whether a repository created by this handle's first push packs its chunks (the `packs` setting). */
    readonly createPacked = false,
    /** The chunking a repository created by this handle's first push records (the `chunking.*` settings). */
    private readonly newChunking: ChunkingParams = DEFAULT_CHUNKING,
  ) {}

  get location(): string {
    return this.backend.location;
  }

  /** aim-repo.json, or undefined for a repository nobody has pushed to yet. */
  async metadata(): Promise<RepoMetadata | undefined> {
    const bytes = await getBounded(this.backend, 'aim-repo.json', REPO_METADATA_FORMAT, `aim-repo.json in ${this.location}`).catch(undefinedIfNotFound);
    if (!bytes) return undefined;
    const metadata = parseRepoMetadata(bytes, `repository ${this.name} (${this.location})`, `aim-repo.json in ${this.location}`);
    this.packed = metadata.format === PACKED_FORMAT;
    return metadata;
  }

  /** The chunking this repository uses, writing aim-repo.json on the first push. */
  async ensureMetadata(): Promise<RepoMetadata> {
    const existing = await this.metadata();
    if (existing) return existing;
    const format = this.createPacked ? PACKED_FORMAT : LOOSE_FORMAT;
    const metadata: RepoMetadata = { format, hash: 'blake3', chunking: this.newChunking, createdAt: new Date().toISOString() };
    await this.backend.putIfAbsent('aim-repo.json', Buffer.from(`${JSON.stringify(metadata, null, 2)}\n`));
    return (await this.metadata())!;
  }

  /** Where the packs' chunks are, read once per handle (an empty index for a repository without packs). */
  packIndex(): Promise<PackIndex> {
    this.index ??= PackIndex.load(this.backend, this.indexCache);
    return this.index;
  }

  /**
   * Where the chunks of one version are: its location map when it has one that reads and covers every chunk, else
   * (a version pushed before maps existed, a map damaged or lost) the whole index. `fallback` is told why, in one
   * line naming the map.
   */
  async locationsFor(digest: Digest, manifest: Manifest, fallback: (why: string) => void = () => undefined): Promise<ChunkLocations> {
    // Only a map that is damaged or hostile (an AimError naming it) is stepped over; a bug must not hide as a note.
    const map = await readLocationMap(this.backend, digest, manifest).catch((error: unknown) => {
      if (!(error instanceof AimError)) throw error;
      // A store's own refusal (a link, a FIFO) names the path but not what it was for.
      const what = error.message.includes('location map') ? '' : 'unusable location map: ';
      fallback(`${what}${error.message}; reading the whole index instead`);
      return null;
    });
    if (map) return map;
    if (map === undefined && (await this.metadata())?.format === PACKED_FORMAT) {
      fallback(`version ${digest} has no location map: reading the whole index (\`aim repo upgrade ${this.name}\` writes one)`);
    }
    return this.packIndex();
  }

  /**
   * Reads index files through a local cache from now on (push and pull). Not for verify, which checks the
   * repository's own files.
   */
  cacheIndex(cache: IndexCache = IndexCache.forRepository(this.location)): void {
    this.indexCache = cache;
  }

  /**
   * True when the chunk is stored whole: in a pack the index names, or (format 1) as an object of its own. A stored
   * size that differs can only be a damaged or truncated copy.
   */
  async hasChunk(digest: Digest, size: number): Promise<boolean> {
    const packed = (await this.packIndex()).lookup(digest);
    if (packed || this.packed) return packed?.size === size;
    return (await this.backend.stat(blobKey(digest)))?.size === size;
  }

  async putBlob(digest: Digest, bytes: Uint8Array): Promise<boolean> {
    return this.backend.putIfAbsent(blobKey(digest), bytes);
  }

  /**
   * A chunk's stored bytes, unverified, or undefined when it is not stored. A loose chunk's object may have been grown
   * by anyone who can write the repository: with the chunk's `size` known, one byte more is read (so a longer object
   * fails its digest); without it, an object larger than any chunk is refused unread.
   */
  async readChunk(digest: Digest, locations?: ChunkLocations, size?: number): Promise<Buffer | undefined> {
    const packed = (locations ?? (await this.packIndex())).lookup(digest);
    const read = packed
      ? this.backend.getRange(packKey(packed.pack), packed.offset, packed.size)
      : size === undefined
        ? this.backend.get(blobKey(digest), MAX_CHUNK_BYTES)
        : this.backend.getRange(blobKey(digest), 0, size + 1);
    return read.catch(undefinedIfNotFound);
  }

  /** A chunk, verified against its digest before anyone sees it (`size`: as readChunk). */
  async getChunk(digest: Digest, locations?: ChunkLocations, size?: number): Promise<Buffer> {
    const bytes = await this.readChunk(digest, locations, size);
    if (!bytes) {
      throw new IntegrityError(`chunk ${digest} is missing from repository ${this.name} (${this.location})`, {
        hint: `run \`aim verify ${this.name}\`; push the version again from a good copy to repair it`,
      });
    }
    await assertDigest(bytes, digest, `chunk ${digest} in repository ${this.name}`);
    return bytes;
  }

  /**
   * Forgets damaged or missing chunks so the next push stores them again: a loose chunk is deleted; a packed one is
   * dropped from the index (each index file naming it is replaced by one without it; the pack's bytes stay until a
   * gc). The new index file is written before the old one is deleted, so a crash in between forgets nothing good.
   * Then the location maps naming them are deleted (a run again after a crash in between deletes them still).
   * Returns how many maps were deleted.
   */
  async removeChunks(digests: Set<Digest>): Promise<number> {
    const index = await this.packIndex();
    for (const digest of digests) if (!index.lookup(digest)) await this.backend.delete(blobKey(digest));
    // A push merging index files meanwhile may have replaced a file read here by one that still names a chunk, so
    // the index is read again until none does.
    await retryUntilStable(async () => {
      const files = [...(await this.packIndex()).files].filter(([, packs]) => [...packs.values()].some((entries) => entries.some((entry) => digests.has(entry.digest))));
      if (files.length === 0) return true;
      for (const [id, packs] of files) {
        // A pack keeps its name in the index even with nothing left in it: a pack no index names would be taken
        // back, damaged chunks and all, from its footer by the next push.
        const kept = new Map<string, PackEntry[]>();
        for (const [pack, entries] of packs) kept.set(pack, entries.filter((entry) => !digests.has(entry.digest)));
        await writeIndexFile(this.backend, kept);
        await this.backend.delete(indexKey(id));
      }
      this.index = undefined;
      return false;
    }, 6, () => new StorageError(`could not drop ${counted(digests.size, 'chunk')} from the index of ${this.location}: it kept changing`, {
      hint: 'run the repair again once no push is running',
    }));
    return dropLocationMapsNaming(this.backend, digests);
  }

  async putManifest(manifest: Manifest): Promise<{ digest: Digest; bytes: number }> {
    const bytes = encodeManifest(manifest);
    const digest = await manifestDigest(bytes);
    await this.backend.putIfAbsent(manifestKey(digest), bytes);
    return { digest, bytes: bytes.length };
  }

  /**
   * Changes whenever chunks are removed from the repository (`verify --repair`; later `gc`). Pushes trust that the
   * chunks of a committed manifest are stored only while this mark is what it was when they committed it.
   */
  async removalMark(): Promise<string | undefined> {
    const bytes = await this.backend.get(REMOVALS_KEY, MAX_SMALL_FILE_BYTES).catch(undefinedIfNotFound);
    return bytes?.toString('utf8').trim();
  }

  /**
   * Writes a new removal mark: `started` before chunks are dropped, plain after. Both change the mark, so every
   * push's record of stored chunks is void from the start of a removal.
   */
  async markRemovals(phase: 'started' | 'done' = 'done'): Promise<void> {
    const mark = `${phase === 'started' ? `${REMOVAL_STARTED} ` : ''}${new Date().toISOString()} ${randomUUID()}`;
    await this.backend.put(REMOVALS_KEY, Buffer.from(`${mark}\n`));
  }

  /**
   * Whether `mark` says a removal began and has not ended: a repair under way may still drop chunks after its
   * listing of location maps. One that began over an hour ago is taken for killed, so that it blocks nothing forever.
   */
  static removalUnderWay(mark: string | undefined): boolean {
    if (!mark?.startsWith(`${REMOVAL_STARTED} `)) return false;
    return !(Date.now() - Date.parse(mark.split(' ')[1]!) > STALE_REMOVAL_MS);
  }

  async hasManifest(digest: Digest): Promise<boolean> {
    return (await this.backend.stat(manifestKey(digest))) !== undefined;
  }

  async getManifest(digest: Digest): Promise<Manifest> {
    return (await this.readManifest(digest)).manifest;
  }

  /** The manifest and its exact bytes (those its digest is of), checked and parsed. */
  async readManifest(digest: Digest): Promise<{ manifest: Manifest; bytes: Uint8Array }> {
    const bytes = await getBounded(this.backend, manifestKey(digest), MANIFEST_FORMAT, `${digest} in repository ${this.name}`).catch((error) => {
      if (error instanceof NotFoundError) {
        throw new NotFoundError(`version ${digest} not found in repository ${this.name}`, {
          hint: `list versions with \`aim model versions ${this.name} MODEL\``,
        });
      }
      throw error;
    });
    await assertDigest(bytes, digest, `manifest ${digest} in repository ${this.name}`);
    return { manifest: parseManifest(bytes, `${digest} in repository ${this.name}`), bytes };
  }

  async getTag(model: string, tag: string): Promise<TagRecord | undefined> {
    const bytes = await getBounded(this.backend, tagKey(model, tag), TAG_FORMAT, `${tagKey(model, tag)} in ${this.location}`).catch(undefinedIfNotFound);
    return bytes ? parseTag(bytes, `${tagKey(model, tag)} in ${this.location}`) : undefined;
  }

  async putTag(model: string, tag: string, record: TagRecord): Promise<void> {
    await this.backend.put(tagKey(model, tag), Buffer.from(`${JSON.stringify(record, null, 2)}\n`));
  }

  async deleteTag(model: string, tag: string): Promise<void> {
    await this.backend.delete(tagKey(model, tag));
  }

  async listModels(): Promise<string[]> {
    if (!canList(this.backend)) return publishedModels(this.backend);
    const models = new Set<string>();
    for await (const { key } of this.backend.list('models/')) {
      const match = /^models\/([^/]+)\/tags\/[^/]+$/.exec(key);
      if (match) models.add(match[1]!);
    }
    return [...models].sort();
  }

  async listTags(model: string): Promise<Array<{ tag: string } & TagRecord>> {
    const prefix = `models/${checkModelName(model)}/tags/`;
    const tags: Array<{ tag: string } & TagRecord> = [];
    const keys = canList(this.backend) ? this.backend.list(prefix) : (await publishedTags(this.backend, model)).map((tag) => ({ key: `${prefix}${tag}` }));
    for await (const { key } of keys) {
      const tag = key.slice(prefix.length);
      if (tag.includes('/')) continue;
      const record = await this.getTag(model, tag);
      if (record) tags.push({ tag, ...record });
    }
    return tags.sort((a, b) => compareText(a.pushedAt, b.pushedAt) || compareText(a.tag, b.tag));
  }
}
