import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../../src/backends/local.js';
import { digestOf, type Digest } from '../../../src/core/format/digest.js';
import { PackWriter } from '../../../src/core/store/pack-writer.js';
import { PACK_TARGET_BYTES, PackIndex, packKey, readPackFooter, type PackEntry } from '../../../src/core/store/packs.js';
import { adoptPendingPacks, deletePendingRecords, newPushId, type AdoptedPacks } from '../../../src/core/store/pending.js';
import { IndexCache } from '../../../src/core/store/index-cache.js';
import { Repository } from '../../../src/core/store/repository.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const folders: string[] = [];
afterEach(async () => Promise.all(folders.splice(0).map((f) => rm(f, { recursive: true, force: true }))));

async function backend(): Promise<{ root: string; backend: LocalBackend }> {
  const root = await mkdtemp(join(tmpdir(), 'aim-packs-'));
  folders.push(root);
  return { root, backend: new LocalBackend(root) };
}

async function someChunks(count: number): Promise<Array<{ digest: Digest; bytes: Buffer }>> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const bytes = randomBytes(300 * KiB + ((i * 7919) % 400) * KiB);
      return { digest: await digestOf(bytes), bytes };
    }),
  );
}

/** A push's pack writer; what it learns is not asked here. */
const newWriter = (store: LocalBackend, adopted?: AdoptedPacks): PackWriter => new PackWriter(store, { learn: () => undefined }, newPushId(), adopted);

/** The packs a new push takes back from pending ones. */
const adoptable = async (store: LocalBackend): Promise<Map<string, PackEntry[]>> => (await adoptPendingPacks(store, newPushId())).packs;

describe('packs', () => {
  it('chunks added at once from many callers land whole, each where the index and its pack footer say', async () => {
    const { backend: store } = await backend();
    const chunks = await someChunks(90); // ~45 MiB: several packs, uploads racing the adds that fill the next one
    const writer = newWriter(store);
    await Promise.all(chunks.map(({ digest, bytes }) => writer.add(digest, bytes)));
    await writer.finish();

    const index = await PackIndex.load(store);
    expect(index.size).toBe(chunks.length);
    for (const { digest, bytes } of chunks) {
      const at = index.lookup(digest)!;
      expect((await store.getRange(packKey(at.pack), at.offset, at.size)).equals(bytes)).toBe(true);
    }
    const packs: string[] = [];
    for await (const { key, size } of store.list('packs/')) {
      packs.push(key);
      expect(size).toBeLessThan(PACK_TARGET_BYTES + 64 * KiB);
      const pack = key.split('/')[2]!;
      for (const entry of await readPackFooter(store, pack, size)) expect(index.lookup(entry.digest)).toEqual({ pack, offset: entry.offset, size: entry.size });
    }
    expect(packs.length).toBeGreaterThanOrEqual(3);
  });

  it('a pack of thousands of small chunks keeps its footer within its buffer (no pack outgrows the target by more than 64 KiB)', async () => {
    const { backend: store } = await backend();
    const chunks = await Promise.all(Array.from({ length: 6000 }, async () => {
      const bytes = randomBytes(4 * KiB);
      return { digest: await digestOf(bytes), bytes };
    }));
    const writer = newWriter(store);
    for (const { digest, bytes } of chunks) await writer.add(digest, bytes);
    await writer.finish();

    const index = await PackIndex.load(store);
    expect(index.size).toBe(chunks.length);
    let packs = 0;
    for await (const { key, size } of store.list('packs/')) {
      packs++;
      // ~4,000 entries of ~95 footer bytes each: a footer written past the buffer would take the pack ~380 KB over.
      expect(size).toBeLessThanOrEqual(PACK_TARGET_BYTES + 64 * KiB);
      const pack = key.split('/')[2]!;
      for (const entry of await readPackFooter(store, pack, size)) expect(index.lookup(entry.digest)).toEqual({ pack, offset: entry.offset, size: entry.size });
    }
    expect(packs).toBe(2);
    for (const { digest, bytes } of chunks.slice(-3)) {
      const at = index.lookup(digest)!;
      expect((await store.getRange(packKey(at.pack), at.offset, at.size)).equals(bytes)).toBe(true);
    }
  });

  it('chunks that are views of shared memory (the chunk reader\'s windows) land whole and back to back, at every offset in a word', async () => {
    const { backend: store } = await backend();
    const shared = Buffer.from(new SharedArrayBuffer(8 * MiB));
    shared.set(randomBytes(shared.length));
    // Odd sizes and starts, so that source and pack offsets meet at every offset within an 8-byte word.
    const views = Array.from({ length: 24 }, (_, i) => shared.subarray(i * 300 * KiB + i, i * 300 * KiB + i + 100 * KiB + i * 13));
    const writer = newWriter(store);
    for (const view of views) await writer.add(await digestOf(view), view);
    await writer.finish();

    const index = await PackIndex.load(store);
    let offset = 0;
    for (const view of views) {
      const at = index.lookup(await digestOf(view))!;
      expect(at.offset).toBe(offset);
      expect((await store.getRange(packKey(at.pack), at.offset, at.size)).equals(view)).toBe(true);
      offset += view.length;
    }
  });

  it('on a folder, packs are written unsynced and all synced, adopted ones too, before the index file names them', async () => {
    const { root } = await backend();
    const events: string[] = [];
    class RecordingBackend extends LocalBackend {
      override putIfAbsentUnsynced(key: string, data: Uint8Array): Promise<boolean> {
        events.push(`unsynced ${key}`);
        return super.putIfAbsentUnsynced(key, data);
      }
      override putIfAbsent(key: string, data: Uint8Array): Promise<boolean> {
        events.push(`synced ${key}`);
        return super.putIfAbsent(key, data);
      }
      override async sync(keys: string[]): Promise<void> {
        await super.sync(keys);
        events.push(...keys.map((key) => `sync ${key}`));
      }
    }
    const store = new RecordingBackend(root);
    const adopted = newWriter(store);
    for (const { digest, bytes } of await someChunks(2)) await adopted.add(digest, bytes);
    await adopted.finish();
    await rm(join(root, 'index'), { recursive: true }); // as if that push had been killed before its index
    events.length = 0;

    const writer = newWriter(store, await adoptPendingPacks(store, newPushId()));
    for (const { digest, bytes } of await someChunks(40)) await writer.add(digest, bytes);
    await writer.finish();
    const written = events.filter((event) => event.startsWith('unsynced packs/')).map((event) => event.slice('unsynced '.length));
    const adoptedKeys = [...(await adoptable(store)).keys()].map(packKey).filter((key) => !written.includes(key));
    expect(written.length).toBeGreaterThanOrEqual(2);
    expect(adoptedKeys).toHaveLength(1);
    const indexAt = events.findIndex((event) => event.startsWith('synced index/'));
    expect(indexAt).toBeGreaterThan(0);
    for (const key of [...written, ...adoptedKeys]) {
      const syncedAt = events.indexOf(`sync ${key}`);
      expect(syncedAt, key).toBeGreaterThan(events.indexOf(`unsynced ${key}`));
      expect(syncedAt, key).toBeLessThan(indexAt);
    }
    expect(events.some((event) => event.startsWith('synced packs/'))).toBe(false);
  });

  it('a failed sync of a pack fails the push before any index names it, and is not retried into a false success', async () => {
    const { root } = await backend();
    let syncs = 0;
    class FailingOnce extends LocalBackend {
      override async sync(keys: string[]): Promise<void> {
        if (keys.length > 0 && ++syncs === 1) throw new Error('EIO: the disk lost a write');
        await super.sync(keys);
      }
    }
    const writer = newWriter(new FailingOnce(root));
    for (const { digest, bytes } of await someChunks(40)) await writer.add(digest, bytes);
    await expect(writer.finish()).rejects.toThrow('EIO');
    expect(await readdir(join(root, 'index')).catch(() => [])).toEqual([]);
  });

  /** A folder holding one pack of `count` chunks that no index file names, as a push killed before its index leaves. */
  async function unindexedPack(count: number) {
    const { root, backend: store } = await backend();
    const chunks = await someChunks(count);
    const writer = newWriter(store);
    for (const { digest, bytes } of chunks) await writer.add(digest, bytes);
    await writer.finish();
    await rm(join(root, 'index'), { recursive: true });
    return { root, store, chunks };
  }

  it('takes back the packs of a pending push by their footers, passing over a pack whose footer does not read', async () => {
    const { root, store, chunks } = await unindexedPack(4);
    const [record] = await readdir(join(root, 'pending'));
    await writeFile(join(root, 'packs', record!.slice(0, 2), record!.padEnd(32, '0')), randomBytes(5000)); // a remnant, not a pack

    const found = await adoptable(store);
    expect(found.size).toBe(1);
    const [entries] = [...found.values()];
    expect(entries!.map((entry) => entry.digest)).toEqual(chunks.map((chunk) => chunk.digest));
  });

  it('in a folder, a pack no index names gives back only its chunks that hash right (a power cut may have lost some)', async () => {
    const { root, store } = await unindexedPack(4);
    let key = '';
    for await (const object of store.list('packs/')) key = object.key;
    const entries = await readPackFooter(store, key.split('/')[2]!, (await store.stat(key))!.size);
    const damaged = entries[1]!;
    const handle = await open(join(root, ...key.split('/')), 'r+');
    await handle.write(Buffer.alloc(4096), 0, 4096, damaged.offset + 100); // zeros, as blocks that never reached the disk read
    await handle.close();

    const found = await adoptable(store);
    expect([...found.values()][0]!.map((entry) => entry.digest)).toEqual(entries.filter((entry) => entry !== damaged).map((entry) => entry.digest));
  });

  it('chunks repair drops stay dropped: a push that ended leaves no pending record, so no push takes its packs back', async () => {
    const { backend: store } = await backend();
    const chunks = await someChunks(4);
    const writer = newWriter(store);
    for (const { digest, bytes } of chunks) await writer.add(digest, bytes);
    await writer.finish();
    await deletePendingRecords(store, [writer.pushId]); // what a push does once its version is committed
    const repo = new Repository('r', store);
    await repo.removeChunks(new Set([chunks[2]!.digest]));

    const index = await PackIndex.load(store);
    expect(index.lookup(chunks[2]!.digest)).toBeUndefined();
    expect(index.size).toBe(3);
    expect(await adoptable(store)).toEqual(new Map());
  });

  it('refuses an index file of a newer format, asking for an upgrade', async () => {
    const { root, backend: store } = await backend();
    await mkdir(join(root, 'index'), { recursive: true });
    await writeFile(join(root, 'index', `${'c'.repeat(32)}.json`), JSON.stringify({ format: 2, packs: {} }));
    await expect(PackIndex.load(store)).rejects.toThrow(/has format 2; this aim reads 1$/);
  });

  it('refuses an index file whose pack ids, digests, offsets or sizes could reach outside a pack, naming the file', async () => {
    const { root, backend: store } = await backend();
    await mkdir(join(root, 'index'), { recursive: true });
    const file = join(root, 'index', `${'d'.repeat(32)}.json`);
    const digest = `blake3:${'e'.repeat(64)}`;
    for (const [packs, why] of [
      [{ '../../../etc/passwd': [] }, /packs: "\.\.\/\.\.\/\.\.\/etc\/passwd" is not a pack id/],
      [{ ['a'.repeat(32)]: [['blake3:/../../dev/zero', 0, 1]] }, /packs\.a{32}\.0\.0: "blake3:\/\.\.\/\.\.\/dev\/zero" is not a digest/],
      [{ ['a'.repeat(32)]: [[digest, 0, 2 ** 40]] }, /packs\.a{32}\.0\.2: 1099511627776 is more than 67108864/],
      [{ ['a'.repeat(32)]: [[digest, 2 ** 30, 1]] }, /packs\.a{32}\.0: lies past the end of its pack \(1073741824 bytes at most\)/],
      [{ ['a'.repeat(32)]: [[digest, 0, 0]] }, /packs\.a{32}\.0\.2: 0 is less than 1/],
    ] as const) {
      await writeFile(file, JSON.stringify({ format: 1, packs }));
      await expect(PackIndex.load(store)).rejects.toThrow(new RegExp(`^corrupt index file at index/d{32}\\.json in ${root}: ${why.source}`));
    }
  });

  it('refuses a pack footer that claims more bytes than its pack, or chunks past the bytes before it', async () => {
    const { root, backend: store } = await backend();
    const id = 'f'.repeat(32);
    await mkdir(join(root, 'packs', 'ff'), { recursive: true });
    const plant = async (json: string, claimed = Buffer.byteLength(json)) => {
      const length = Buffer.alloc(4);
      length.writeUInt32LE(claimed);
      const bytes = Buffer.concat([Buffer.alloc(100), Buffer.from(json), length]);
      await writeFile(join(root, 'packs', 'ff', id), bytes);
      return bytes.length;
    };
    const size = await plant('{}', 0xfffffff0);
    await expect(readPackFooter(store, id, size)).rejects.toThrow(/^corrupt pack footer at packs\/ff\/f{32} in .*: a footer of 4294967280 bytes cannot fit the pack/);
    const past = await plant(JSON.stringify({ chunks: [[`blake3:${'e'.repeat(64)}`, 90, 20]] }));
    await expect(readPackFooter(store, id, past)).rejects.toThrow(/chunks\.0: lies past the end of its pack \(100 bytes at most\)/);
  });

  it('after a failed upload, salvage indexes the packs that did land, so the next push does not send them again', async () => {
    const { backend: store } = await backend();
    let puts = 0;
    // The real folder backend, refusing the third pack (as a store that fills up or drops the link would).
    const failing = Object.assign(Object.create(store) as LocalBackend, {
      putIfAbsentUnsynced: (key: string, data: Uint8Array) => (++puts === 3 ? Promise.reject(new Error('disk full')) : store.putIfAbsentUnsynced(key, data)),
    });
    const chunks = await someChunks(90);
    const writer = newWriter(failing);
    const added = (async () => {
      for (const { digest, bytes } of chunks) await writer.add(digest, bytes);
      await writer.finish();
    })();
    await expect(added).rejects.toThrow('disk full');
    await writer.salvage();

    const index = await PackIndex.load(store);
    let landed = 0;
    for await (const { key } of store.list('packs/')) landed += key ? 1 : 0;
    expect(landed).toBeGreaterThanOrEqual(2);
    expect(index.size).toBeGreaterThan(0);
    for (const { digest, bytes } of chunks) {
      const at = index.lookup(digest);
      if (at) expect((await store.getRange(packKey(at.pack), at.offset, at.size)).equals(bytes)).toBe(true);
    }
    // Its pending record stays: the next push takes the packs back from their footers too, and so learns them.
    expect([...(await adoptable(store)).keys()].sort()).toEqual([...new Set([...index.files.values()].flatMap((packs) => [...packs.keys()]))].sort());
  });

  describe('index files', () => {
    /** One push's worth: the chunks go into packs and index shards. */
    async function pushChunks(store: LocalBackend, chunks: Array<{ digest: Digest; bytes: Buffer }>): Promise<void> {
      const writer = newWriter(store);
      for (const { digest, bytes } of chunks) await writer.add(digest, bytes);
      await writer.finish();
    }

    async function indexFiles(store: LocalBackend): Promise<string[]> {
      const keys: string[] = [];
      for await (const { key } of store.list('index/')) keys.push(key);
      return keys;
    }

    it('with a local cache, a load reads from the store only index files it has not seen, and forgets files gone from the store', async () => {
      const { root, backend: store } = await backend();
      const chunks = await someChunks(4);
      for (const chunk of chunks.slice(0, 3)) await pushChunks(store, [chunk]);
      const reads: string[] = [];
      // The real folder, counting reads of index files.
      const counted = Object.assign(Object.create(store) as LocalBackend, {
        get: (key: string) => {
          if (key.startsWith('index/')) reads.push(key);
          return store.get(key);
        },
      });
      const cache = new IndexCache(join(root, '..', `${root.split('/').pop()}-cache`));
      folders.push(cache.folder);

      await PackIndex.load(counted, cache);
      expect(reads).toHaveLength(3);
      reads.length = 0;
      const again = await PackIndex.load(counted, cache);
      expect(reads).toEqual([]);
      for (const { digest } of chunks.slice(0, 3)) expect(again.lookup(digest)).toBeDefined();

      // What a process killed while writing a copy leaves: an old temp file goes, a fresh one may be a write under way.
      const killed = join(cache.folder, `.${'a'.repeat(32)}.json.0123456789ab.tmp`);
      const writing = join(cache.folder, `.${'b'.repeat(32)}.json.0123456789ab.tmp`);
      for (const file of [killed, writing]) await writeFile(file, '{"packs": ');
      const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
      await utimes(killed, twoHoursAgo, twoHoursAgo);
      const [replaced] = await indexFiles(store);
      await pushChunks(store, [chunks[3]!]);
      await rm(join(root, replaced!)); // one of the files read before, gone as a repair replacing it leaves it
      const later = await PackIndex.load(counted, cache);
      expect(reads).toHaveLength(1);
      expect(later.size).toBe(3);
      await rm(writing);
      expect((await readdir(cache.folder)).map((name) => `index/${name}`).sort()).toEqual((await indexFiles(store)).sort());
    });

    it('a cached copy that does not read as an index file is fetched again, and the store\'s own damage still shows', async () => {
      const { root, backend: store } = await backend();
      const chunks = await someChunks(2);
      for (const chunk of chunks) await pushChunks(store, [chunk]);
      const cache = new IndexCache(join(root, '..', `${root.split('/').pop()}-cache`));
      folders.push(cache.folder);
      await PackIndex.load(store, cache);
      const [first] = await readdir(cache.folder);
      await writeFile(join(cache.folder, first!), '{"packs": ');

      const index = await PackIndex.load(store, cache);
      for (const { digest } of chunks) expect(index.lookup(digest)).toBeDefined();
      expect(await readFile(join(cache.folder, first!))).toEqual(await readFile(join(root, 'index', first!))); // mended
      await writeFile(join(root, 'index', first!), '{"packs": ');
      await expect(PackIndex.load(store)).rejects.toThrow(/^corrupt index file at index\/[0-9a-f]{32}\.json in .*: not valid JSON/);
    });

  });
});
