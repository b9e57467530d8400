import { supportsDeferredSync, type Backend, type DeferredSync } from '../../backends/backend.js';
import { TaskPool } from '../../lib/concurrently.js';
import { bufferForDirectWrite } from '../../lib/direct-io.js';
import type { Digest } from '../format/digest.js';
import { StorageError } from '../../lib/errors.js';
import { indexKey, newPackId, PACK_TARGET_BYTES, packFooter, packKey, unionOfPacks, writeIndexFile, type PackEntry, type PackIndex } from './packs.js';

// Gathers a push's new chunks into packs and uploads each once it holds about 16 MiB, while the next one fills.
// The index file naming them is written by `finish`, after every pack is stored and before the manifest: the same
// order as loose chunks, so a tag never names a chunk that is not stored and indexed.

/**
 * When to merge index files. Every push and pull reads every index file (one GET each) and a push writes one, so a
 * push that finds `mergeAt` small ones or more writes a single file naming their packs and its own, then deletes
 * them. A file naming `fullEntries` chunks or more (about 100 GiB of data) is left as it is, so a merge never
 * rewrites a big index: a repository holds at most `mergeAt` small files plus one per 100 GiB or so.
 */
export interface IndexMerging {
  mergeAt: number;
  fullEntries: number;
  /**
   * Asked before merging and again once the merged file is written: false skips or undoes the merge. A merge copies
   * entries from the files it read at the start of the push; after a `verify --repair` dropped chunks meanwhile, it
   * would name them again.
   */
  allowed(): Promise<boolean>;
}

export const INDEX_MERGING: IndexMerging = { mergeAt: 16, fullEntries: 100_000, allowed: async () => true };

/** Packs uploading at once; with the one filling, this bounds memory at about three packs. */
const UPLOADS_IN_FLIGHT = 2;
/** Room kept after the chunks for the footer (~90 bytes a chunk), so a sealed pack is not copied again. */
const FOOTER_ROOM = 64 * 1024;

interface OpenPack {
  id: string;
  buffer: Buffer;
  used: number;
  entries: PackEntry[];
}

export class PackWriter {
  private current?: OpenPack;
  private readonly spare: Buffer[] = [];
  private readonly uploads = new TaskPool(UPLOADS_IN_FLIGHT);
  private closed = false;
  /** Packs stored by this push (and packs it adopted from a killed one), for its index file. */
  private readonly stored = new Map<string, PackEntry[]>();
  /** DeferredSync backends: packs synced since they were written, those waiting, and the sync under way. */
  private readonly synced = new Set<string>();
  private readonly unsynced: string[] = [];
  private syncing: Promise<void> = Promise.resolve();
  /**
   * The first failed sync, reported instead of syncing again: after a failed fsync Linux may count the lost pages
   * clean, and a second fsync succeed without the bytes being on the disk.
   */
  private syncFailure: unknown;
  /** The backend, when it writes unsynced and syncs later (a folder); undefined for one whose writes are durable. */
  private readonly deferred: (Backend & DeferredSync) | undefined;

  constructor(
    private readonly backend: Backend,
    private readonly index: PackIndex,
    adopted: Map<string, PackEntry[]> = new Map(),
    private readonly merging: IndexMerging = INDEX_MERGING,
  ) {
    this.deferred = supportsDeferredSync(backend) ? backend : undefined;
    for (const [pack, entries] of adopted) {
      this.stored.set(pack, entries);
      index.add(pack, entries);
    }
  }

  /** Copies the chunk into the open pack (the caller may reuse its bytes); waits while two packs are uploading. */
  async add(digest: Digest, bytes: Uint8Array): Promise<void> {
    this.checkOpen();
    // A full pack is sealed only once an upload slot is free, so no sealed pack waits in memory beside the uploads
    // and the one filling; other chunks may fill the next pack meanwhile, hence a loop.
    while (this.current && this.current.used + bytes.length > this.current.buffer.length - FOOTER_ROOM) {
      if (this.uploads.full) await this.uploads.oneSettled();
      else this.seal();
      this.checkOpen();
    }
    const pack = (this.current ??= this.open(bytes.length));
    pack.buffer.set(bytes, pack.used);
    pack.entries.push({ digest, offset: pack.used, size: bytes.length });
    pack.used += bytes.length;
  }

  /**
   * Uploads what is left, then writes the index file naming every pack of this push; when there are many small
   * index files, that file names theirs too, and they are deleted once it is stored.
   */
  async finish(): Promise<void> {
    await this.uploads.room();
    this.seal();
    await this.uploads.drain();
    if (this.stored.size === 0) return;
    await this.syncStored();
    const small = [...this.index.files].filter(([, packs]) => countEntries(packs) < this.merging.fullEntries);
    const allowed = (): Promise<boolean> => this.merging.allowed().catch(() => false);
    if (small.length < this.merging.mergeAt || !(await allowed())) {
      await writeIndexFile(this.backend, this.stored);
      return;
    }
    const merged = await writeIndexFile(this.backend, unionOfPacks([...small.map(([, packs]) => packs), this.stored]));
    // A removal that ran while the merged file was being written may have dropped chunks it names: then this push
    // keeps to its own packs, and the files it read stay as they are. The merged file goes first: while it is listed,
    // another push may merge it again and bring those chunks back. If this push then fails before its own file is
    // written, salvage (or the next push, from the pack footers) indexes its packs; no manifest names them yet.
    if (!(await allowed())) {
      await this.backend.delete(indexKey(merged)).catch((error: unknown) => {
        throw new StorageError(`could not delete ${indexKey(merged)}, which may name chunks a repair dropped: ${error instanceof Error ? error.message : String(error)}`, {
          hint: `delete ${indexKey(merged)} from the repository, then run \`aim verify --repair\` again`,
          cause: error,
        });
      });
      await writeIndexFile(this.backend, this.stored);
      return;
    }
    // A crash before every delete leaves files whose entries the merged one repeats; a later merge takes them.
    await Promise.all(small.map(([id]) => this.backend.delete(indexKey(id))));
  }

  /**
   * After a failed or interrupted push: indexes the packs that did reach the store, so the next push does not send
   * them again. Best effort; a push killed outright leaves them to be found by their footers instead.
   */
  async salvage(): Promise<void> {
    this.closed = true; // an add still waiting for a slot must not start an upload this index would miss
    await this.uploads.settle();
    if (this.stored.size > 0) await this.syncStored().then(() => writeIndexFile(this.backend, this.stored)).catch(() => undefined);
  }

  /**
   * Makes every pack the index file will name durable (a folder's packs are written unsynced), adopted ones too: the
   * push that wrote those may still be running, and not have synced them yet.
   */
  private async syncStored(): Promise<void> {
    if (!this.deferred) return;
    await this.syncing;
    if (this.syncFailure) throw this.syncFailure;
    await this.deferred.sync([...this.stored.keys()].filter((id) => !this.synced.has(id)).map(packKey));
  }

  /**
   * Syncs a pack once it is written, in the background, one batch at a time, so the flushes of the disk's cache overlap
   * the next packs' work instead of holding an upload slot each, or all waiting for the end of the push.
   */
  private syncInBackground(id: string): void {
    const backend = this.deferred;
    if (!backend) return;
    this.unsynced.push(id);
    if (this.unsynced.length > 1) return; // the sync queued already takes this one too
    // Each sync takes every pack written by the time it starts: when the disk is slow to flush, fewer, bigger batches.
    this.syncing = this.syncing.then(async () => {
      const batch = this.unsynced.splice(0);
      await backend.sync(batch.map(packKey)).then(
        () => batch.forEach((done) => this.synced.add(done)),
        (error: unknown) => void (this.syncFailure ??= error), // reported by syncStored, before any index names the pack
      );
    });
  }

  private checkOpen(): void {
    const failure = this.uploads.failure;
    if (failure) throw failure.error;
    if (this.closed) throw new Error('the push was abandoned');
  }

  private open(firstChunk: number): OpenPack {
    const capacity = Math.max(PACK_TARGET_BYTES, firstChunk);
    const index = this.spare.findIndex((buffer) => buffer.length >= capacity + FOOTER_ROOM);
    const buffer = index >= 0 ? this.spare.splice(index, 1)[0]! : bufferForDirectWrite(capacity + FOOTER_ROOM);
    return { id: newPackId(), buffer, used: 0, entries: [] };
  }

  /** Starts the open pack's upload; the caller has made sure a slot is free. */
  private seal(): void {
    const pack = this.current;
    this.current = undefined;
    if (!pack || pack.entries.length === 0) return;
    const footer = packFooter(pack.entries);
    const body =
      pack.used + footer.length <= pack.buffer.length
        ? pack.buffer.subarray(0, pack.used + footer.copy(pack.buffer, pack.used))
        : Buffer.concat([pack.buffer.subarray(0, pack.used), footer]);
    const key = packKey(pack.id);
    this.uploads.start(async () => {
      await (this.deferred ? this.deferred.putIfAbsentUnsynced(key, body) : this.backend.putIfAbsent(key, body));
      this.stored.set(pack.id, pack.entries);
      this.index.add(pack.id, pack.entries);
      this.spare.push(pack.buffer);
      this.syncInBackground(pack.id);
    });
  }
}

function countEntries(packs: Map<string, PackEntry[]>): number {
  let count = 0;
  for (const entries of packs.values()) count += entries.length;
  return count;
}
