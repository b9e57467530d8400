import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../../src/backends/local.js';
import { digestOf, type Digest } from '../../../src/core/format/digest.js';
import { PackWriter, type IndexMerging } from '../../../src/core/store/pack-writer.js';
import { PACK_TARGET_BYTES, PackIndex, packKey, readPackFooter, unindexedPacks } from '../../../src/core/store/packs.js';
import { IndexCache } from '../../../src/core/store/index-cache.js';
import { Repository } from '../../../src/core/store/repository.js';

const KiB = 1024;
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

describe('packs', () => {
  it('chunks added at once from many callers land whole, each where the index and its pack footer say', async () => {
    const { backend: store } = await backend();
    const chunks = await someChunks(90); // ~45 MiB: several packs, uploads racing the adds that fill the next one
    const writer = new PackWriter(store, new PackIndex());
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
    const adopted = new PackWriter(store, new PackIndex());
    for (const { digest, bytes } of await someChunks(2)) await adopted.add(digest, bytes);
    await adopted.finish();
    await rm(join(root, 'index'), { recursive: true }); // as if that push had been killed before its index
    events.length = 0;

    const writer = new PackWriter(store, new PackIndex(), await unindexedPacks(store, new PackIndex()));
    for (const { digest, bytes } of await someChunks(40)) await writer.add(digest, bytes);
    await writer.finish();
    const written = events.filter((event) => event.startsWith('unsynced packs/')).map((event) => event.slice('unsynced '.length));
    const adoptedKeys = [...(await unindexedPacks(store, new PackIndex())).keys()].map(packKey).filter((key) => !written.includes(key));
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
    const writer = new PackWriter(new FailingOnce(root), new PackIndex());
    for (const { digest, bytes } of await someChunks(40)) await writer.add(digest, bytes);
    await expect(writer.finish()).rejects.toThrow('EIO');
    expect(await readdir(join(root, 'index')).catch(() => [])).toEqual([]);
  });

  /** A folder holding one pack of `count` chunks that no index file names, as a push killed before its index leaves. */
  async function unindexedPack(count: number) {
    const { root, backend: store } = await backend();
    const chunks = await someChunks(count);
    const writer = new PackWriter(store, new PackIndex());
    for (const { digest, bytes } of chunks) await writer.add(digest, bytes);
    await writer.finish();
    await rm(join(root, 'index'), { recursive: true });
    return { root, store, chunks };
  }

  it('finds packs no index names by their footers, passing over a pack whose footer does not read', async () => {
    const { root, store, chunks } = await unindexedPack(4);
    await mkdir(join(root, 'packs', 'ab'), { recursive: true });
    await writeFile(join(root, 'packs', 'ab', 'ab'.padEnd(32, '0')), randomBytes(5000)); // a remnant, not a pack

    const found = await unindexedPacks(store, await PackIndex.load(store));
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

    const found = await unindexedPacks(store, await PackIndex.load(store));
    expect([...found.values()][0]!.map((entry) => entry.digest)).toEqual(entries.filter((entry) => entry !== damaged).map((entry) => entry.digest));
  });

  it('chunks repair drops stay dropped: their pack stays named, so no push takes them back from its footer', async () => {
    const { backend: store } = await backend();
    const chunks = await someChunks(4);
    const writer = new PackWriter(store, new PackIndex());
    for (const { digest, bytes } of chunks) await writer.add(digest, bytes);
    await writer.finish();
    const repo = new Repository('r', store);
    await repo.removeChunks(new Set([chunks[2]!.digest]));

    const index = await PackIndex.load(store);
    expect(index.lookup(chunks[2]!.digest)).toBeUndefined();
    expect(index.size).toBe(3);
    expect(index.files.size).toBe(1);
    expect(await unindexedPacks(store, index)).toEqual(new Map());
    await repo.removeChunks(new Set(chunks.map((chunk) => chunk.digest)));
    const emptied = await PackIndex.load(store);
    expect(emptied.size).toBe(0);
    expect(await unindexedPacks(store, emptied)).toEqual(new Map());
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
    const writer = new PackWriter(failing, new PackIndex());
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
    expect(await unindexedPacks(store, index)).toEqual(new Map());
  });

  describe('merging index files', () => {
    const merging = (mergeAt: number, fullEntries = 100, allowed = true): IndexMerging => ({ mergeAt, fullEntries, allowed: async () => allowed });

    /** One push's worth: the chunks go into packs and an index file, merging as `rules` say. */
    async function pushChunks(store: LocalBackend, chunks: Array<{ digest: Digest; bytes: Buffer }>, rules?: IndexMerging): Promise<void> {
      const writer = new PackWriter(store, await PackIndex.load(store), new Map(), rules);
      for (const { digest, bytes } of chunks) await writer.add(digest, bytes);
      await writer.finish();
    }

    async function indexFiles(store: LocalBackend): Promise<string[]> {
      const keys: string[] = [];
      for await (const { key } of store.list('index/')) keys.push(key);
      return keys;
    }

    /** The store holds one index file (the merged one) and the reader's index found every chunk. */
    async function expectOneFileNamingAll(store: LocalBackend, index: PackIndex, chunks: Array<{ digest: Digest }>): Promise<void> {
      expect(await indexFiles(store)).toHaveLength(1);
      for (const { digest } of chunks) expect(index.lookup(digest)).toBeDefined();
    }

    it('a push that finds many small index files writes one naming all their packs and deletes them; big ones stay', async () => {
      const { backend: store } = await backend();
      const chunks = await someChunks(8);
      await pushChunks(store, chunks.slice(0, 3)); // three chunks: "full" for these rules, never rewritten
      const [big] = await indexFiles(store);
      await pushChunks(store, [chunks[3]!]);
      await new Repository('r', store).removeChunks(new Set([chunks[3]!.digest])); // its pack stays named, emptied
      for (const chunk of chunks.slice(4, 7)) await pushChunks(store, [chunk], merging(4, 3));
      expect(await indexFiles(store)).toHaveLength(5); // big + emptied + three small: not yet four small ones
      const before = await PackIndex.load(store);

      await pushChunks(store, [chunks[7]!], merging(4, 3));
      const files = await indexFiles(store);
      expect(files).toHaveLength(2);
      expect(files).toContain(big);
      const after = await PackIndex.load(store);
      for (const { digest } of chunks.slice(0, 7)) expect(after.lookup(digest)).toEqual(before.lookup(digest));
      expect(after.lookup(chunks[3]!.digest)).toBeUndefined();
      expect(after.lookup(chunks[7]!.digest)).toBeDefined();
      for (const pack of before.files.values()) for (const id of pack.keys()) expect(after.hasPack(id)).toBe(true);
      expect(await unindexedPacks(store, after)).toEqual(new Map());
    });

    it('does not merge when a repair removed chunks since the push read the index', async () => {
      const { backend: store } = await backend();
      const chunks = await someChunks(3);
      for (const chunk of chunks) await pushChunks(store, [chunk], merging(2, 100, false));
      expect(await indexFiles(store)).toHaveLength(3);
    });

    it('a reader that lists the index files while a push merges them away still finds every chunk', async () => {
      const { backend: store } = await backend();
      const chunks = await someChunks(4);
      for (const chunk of chunks.slice(0, 3)) await pushChunks(store, [chunk]);
      const merge = pushChunks(store, [chunks[3]!], merging(3));
      let merged = false;
      // The real folder: the reader's first read of an index file waits until the merge has replaced them all.
      const racing = Object.assign(Object.create(store) as LocalBackend, {
        get: async (key: string) => {
          if (key.startsWith('index/') && !merged) {
            merged = true;
            await merge;
          }
          return store.get(key);
        },
      });

      const index = await PackIndex.load(racing);
      expect(merged).toBe(true);
      await expectOneFileNamingAll(store, index, chunks);
    });

    it('a reader whose folder listing is cut across by a merge (small files gone, merged one not yet seen) lists again', async () => {
      const { backend: store } = await backend();
      const chunks = await someChunks(8);
      await pushChunks(store, chunks.slice(0, 3)); // three chunks: "full" for these rules, kept by the merge
      const [big] = await indexFiles(store);
      for (const chunk of chunks.slice(3, 7)) await pushChunks(store, [chunk]);
      let merge: Promise<void> | undefined;
      // The real folder read name by name: the kept file comes first, then the merge deletes the small files before
      // the listing reaches them and writes the merged one behind it. No file the reader listed vanishes, so only a
      // listing taken after the reads finds the merged file.
      const racing = Object.assign(Object.create(store) as LocalBackend, {
        list: async function* (prefix: string) {
          const objects = [];
          for await (const object of store.list(prefix)) objects.push(object);
          objects.sort((a, b) => Number(b.key === big) - Number(a.key === big));
          for (const object of objects) {
            if (prefix === 'index/' && object.key !== big) {
              await (merge ??= pushChunks(store, [chunks[7]!], merging(4, 3)));
              if (!(await store.stat(object.key))) continue;
            }
            yield object;
          }
        },
      });

      const index = await PackIndex.load(racing);
      expect(merge).toBeDefined();
      expect(await indexFiles(store)).toHaveLength(2);
      for (const { digest } of chunks) expect(index.lookup(digest)).toBeDefined();
    });

    it('a merge undone: when a repair ran while the merged file was written, the push keeps to its own packs', async () => {
      const { backend: store } = await backend();
      const chunks = await someChunks(4);
      for (const chunk of chunks.slice(0, 3)) await pushChunks(store, [chunk]);
      const before = await indexFiles(store);
      let asked = 0;
      await pushChunks(store, [chunks[3]!], { mergeAt: 3, fullEntries: 100, allowed: async () => ++asked === 1 });

      const after = await indexFiles(store);
      expect(asked).toBe(2);
      expect(after).toHaveLength(4);
      for (const file of before) expect(after).toContain(file);
      const index = await PackIndex.load(store);
      for (const { digest } of chunks) expect(index.lookup(digest)).toBeDefined();
    });

    it('a merge undone whose merged file cannot be deleted fails, naming the file, before writing its own', async () => {
      const { backend: store } = await backend();
      const chunks = await someChunks(4);
      for (const chunk of chunks.slice(0, 3)) await pushChunks(store, [chunk]);
      const before = await indexFiles(store);
      let asked = 0;
      // The real folder, refusing deletes (a store that allows writes but not deletes).
      const undeleting = Object.assign(Object.create(store) as LocalBackend, {
        delete: () => Promise.reject(new Error('access denied')),
      });
      const writer = new PackWriter(undeleting, await PackIndex.load(store), new Map(), { mergeAt: 3, fullEntries: 100, allowed: async () => ++asked === 1 });
      await writer.add(chunks[3]!.digest, chunks[3]!.bytes);

      const failed = writer.finish();
      await expect(failed).rejects.toThrow(/^could not delete index\/[0-9a-f]{32}\.json, which may name chunks a repair dropped: access denied$/);
      await expect(failed).rejects.toMatchObject({ hint: expect.stringMatching(/aim verify --repair/) });
      expect(await indexFiles(store)).toHaveLength(before.length + 1); // the merged file, not yet this push's own
    });

    it('merging is allowed only while the removal mark is what the push read, and no removal was under way then', async () => {
      const { root, backend: store } = await backend();
      const repo = new Repository('r', store);
      expect(await repo.indexMergeAllowed(undefined)).toBe(true);
      await repo.markRemovals('started');
      const started = await repo.removalMark();
      expect(started).toMatch(/^started /);
      expect(await repo.indexMergeAllowed(undefined)).toBe(false);
      expect(await repo.indexMergeAllowed(started)).toBe(false);
      await repo.markRemovals();
      const done = await repo.removalMark();
      expect(await repo.indexMergeAllowed(done)).toBe(true);
      expect(await repo.indexMergeAllowed(started)).toBe(false);
      // A removal that started long ago and never finished (killed) stops blocking merges.
      const stale = `started ${new Date(Date.now() - 2 * 3600_000).toISOString()} 0f0e`;
      await writeFile(join(root, 'removals'), `${stale}\n`);
      expect(await repo.indexMergeAllowed(stale)).toBe(true);
    });

    it('with a local cache, a load reads from the store only index files it has not seen, and forgets merged ones', async () => {
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
      await pushChunks(store, [chunks[3]!], merging(3)); // merges the three into one new file
      const merged = await PackIndex.load(counted, cache);
      expect(reads).toHaveLength(1);
      for (const { digest } of chunks) expect(merged.lookup(digest)).toBeDefined();
      await rm(writing);
      expect((await readdir(cache.folder)).map((name) => `index/${name}`)).toEqual(await indexFiles(store));
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

    it('a repair racing a merge still drops its chunks: the merge copied them from files read before the repair', async () => {
      const { backend: store } = await backend();
      const chunks = await someChunks(4);
      for (const chunk of chunks.slice(0, 3)) await pushChunks(store, [chunk]);
      // A push that read the index before the repair, and merges while the repair rewrites the first file.
      const stale = new PackWriter(store, await PackIndex.load(store), new Map(), merging(3));
      await stale.add(chunks[3]!.digest, chunks[3]!.bytes);
      let merging3: Promise<void> | undefined;
      const racing = Object.assign(Object.create(store) as LocalBackend, {
        delete: async (key: string) => {
          merging3 ??= stale.finish();
          await merging3;
          return store.delete(key);
        },
      });
      await new Repository('r', racing).removeChunks(new Set([chunks[0]!.digest]));

      const index = await PackIndex.load(store);
      expect(merging3).toBeDefined();
      expect(index.lookup(chunks[0]!.digest)).toBeUndefined();
      for (const { digest } of chunks.slice(1)) expect(index.lookup(digest)).toBeDefined();
    });
  });
});
