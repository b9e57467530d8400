import { supportsDeferredSync, type Backend, type DeferredSync } from '../../backends/backend.js';
import { TaskPool } from '../../lib/concurrently.js';
import { bufferForDirectWrite } from '../../lib/direct-io.js';
import type { Digest } from '../format/digest.js';
import { writeIndexShards, writeKeyObjects } from './index-shards.js';
import { newPackId, PACK_TARGET_BYTES, packFooter, packKey, type PackEntry } from './packs.js';
import { writePendingRecord, type AdoptedPacks } from './pending.js';
import { stopHereInTests } from './test-stop.js';
import { log } from '../../lib/log.js';

// Gathers a push's new chunks into packs and uploads each once it holds about 16 MiB, while the next one fills.
// Before the first pack, the push's pending record (pending.ts) says its packs may be left unindexed. The index
// shards naming them are written by `finish`, after every pack is stored and before the manifest, then the key
// objects of their key chunks: a tag never names a chunk that is not stored and indexed, and a key never names a
// shard that is not stored.

/** Where the packs this push stores and adopts are told, as they land. */
export interface PackListener {
  learn(pack: string, entries: PackEntry[]): void;
}

/** Packs uploading at once; with the one filling, this bounds memory at about three packs. */
const UPLOADS_IN_FLIGHT = 2;
/** Room kept after the chunks and their footer entries: the footer's frame, and the few bytes copyInto may write past a chunk's end. */
const FOOTER_ROOM = 64 * 1024;
/**
 * Footer bytes a chunk's entry takes at most (`["blake3:<64 hex>",offset,size],` with 16-digit numbers): room for
 * them is kept as the pack fills, so a pack of thousands of small chunks is not copied whole to append its footer.
 */
const FOOTER_BYTES_PER_CHUNK = 112;
/** The word V8 copies shared memory by: bytes whose source and target sit at different offsets in it go one by one. */
const WORD = 8;

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

  /** The pushes whose packs this one took back: their records go once this push's index names those packs. */
  readonly adoptedPushIds: string[];
  /** The pending record, written before the first pack is stored. */
  private pending?: Promise<void>;

  constructor(
    private readonly backend: Backend,
    private readonly listener: PackListener,
    /** This push's id (pending.ts): the first half of each of its pack ids. */
    readonly pushId: string,
    adopted: AdoptedPacks = { packs: new Map(), pushIds: [] },
  ) {
    this.deferred = supportsDeferredSync(backend) ? backend : undefined;
    this.adoptedPushIds = adopted.pushIds;
    for (const [pack, entries] of adopted.packs) {
      this.stored.set(pack, entries);
      listener.learn(pack, entries);
    }
  }

  /** Copies the chunk into the open pack (the caller may reuse its bytes); waits while two packs are uploading. */
  async add(digest: Digest, bytes: Uint8Array): Promise<void> {
    this.checkOpen();
    // A full pack is sealed only once an upload slot is free, so no sealed pack waits in memory beside the uploads
    // and the one filling; other chunks may fill the next pack meanwhile, hence a loop.
    while (this.current && !fits(this.current, bytes.length)) {
      if (this.uploads.full) await this.uploads.oneSettled();
      else this.seal();
      this.checkOpen();
    }
    const pack = (this.current ??= this.open(bytes.length));
    copyInto(pack.buffer, pack.used, bytes);
    pack.entries.push({ digest, offset: pack.used, size: bytes.length });
    pack.used += bytes.length;
  }

  /**
   * Uploads what is left, then writes the index shards naming every pack of this push (and those it adopted), then
   * the key objects of their key chunks; returns the shards. Index files are only ever added by a push (gc replaces
   * those naming packs it removes).
   */
  async finish(): Promise<Array<{ id: string; packs: Map<string, PackEntry[]> }>> {
    await this.uploads.room();
    this.seal();
    await this.uploads.drain();
    if (this.stored.size === 0) return [];
    await this.syncStored();
    const shards = await writeIndexShards(this.backend, this.stored);
    stopHereInTests('index');
    await writeKeyObjects(this.backend, shards);
    stopHereInTests('keys');
    return shards;
  }

  /**
   * Seals the open pack and waits for every upload, then syncs: the chunks added so far are then in durable packs,
   * which a later push takes back (pending.ts) even after a kill -9. For a push fed as bytes arrive, so a rerun can
   * resume there.
   */
  async checkpoint(): Promise<void> {
    await this.uploads.room();
    this.seal();
    await this.uploads.drain();
    this.checkOpen();
    await this.syncStored(); // a record of what is stored must not outlive the bytes in a power loss
  }

  /**
   * After a failed or interrupted push: indexes the packs that did reach the store, so the next push does not send
   * them again. Best effort; a push killed outright leaves them to be found by their footers instead.
   */
  async salvage(): Promise<void> {
    this.closed = true; // an add still waiting for a slot must not start an upload this index would miss
    await this.uploads.settle();
    if (this.stored.size > 0) await this.syncStored().then(() => writeIndexShards(this.backend, this.stored)).catch(() => undefined);
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
    return { id: newPackId(this.pushId), buffer, used: 0, entries: [] };
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
      // Durable before any pack: a push killed later leaves its packs findable by this record.
      await (this.pending ??= writePendingRecord(this.backend, this.pushId).then(() => stopHereInTests('pending')));
      await (this.deferred ? this.deferred.putIfAbsentUnsynced(key, body) : this.backend.putIfAbsent(key, body));
      this.stored.set(pack.id, pack.entries);
      log.debug('pack written', { pack: pack.id, chunks: pack.entries.length, bytes: body.length });
      this.listener.learn(pack.id, pack.entries);
      stopHereInTests('pack');
      this.spare.push(pack.buffer);
      this.syncInBackground(pack.id);
    });
  }
}

/** Whether a chunk of `size` bytes still fits in the pack, with room for the footer that will name it. */
function fits(pack: OpenPack, size: number): boolean {
  return pack.used + size + (pack.entries.length + 1) * FOOTER_BYTES_PER_CHUNK <= pack.buffer.length - FOOTER_ROOM;
}

/**
 * Copies `bytes` to `target` at `at`, writing up to WORD - 1 bytes past their end. Chunks of big files are views of
 * the chunk reader's shared memory, which V8 copies with relaxed atomic accesses: a word at a time when source and
 * target sit at the same offset within a word, else a byte at a time, at a quarter of the speed. So a chunk from
 * shared memory is copied to where it lines up, then moved back to `at` within the pack (a plain memmove).
 */
function copyInto(target: Buffer, at: number, bytes: Uint8Array): void {
  const shift = bytes.buffer instanceof SharedArrayBuffer ? (bytes.byteOffset - target.byteOffset - at) & (WORD - 1) : 0;
  target.set(bytes, at + shift);
  if (shift !== 0) target.copyWithin(at, at + shift, at + shift + bytes.length);
}
