// What a push writes and reads of the index without the whole of it: shards of at most 32,768 entries, key objects
// naming them, the shard a key chunk leads to (and nothing else, whatever a hostile key object points at), and the
// pending records through which the next push takes back a killed push's packs.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../../src/backends/local.js';
import { digestFromHex, digestOf, type Digest } from '../../../src/core/format/digest.js';
import { IndexCache } from '../../../src/core/store/index-cache.js';
import { SHARD_ENTRIES, shardsOf, writeIndexShards, writeKeyObjects } from '../../../src/core/store/index-shards.js';
import { keyObjectKey } from '../../../src/core/store/keys.js';
import { PackWriter } from '../../../src/core/store/pack-writer.js';
import type { PackEntry } from '../../../src/core/store/packs.js';
import { adoptPendingPacks, newPushId } from '../../../src/core/store/pending.js';
import { MAX_SHARDS, PushLocations } from '../../../src/core/store/push-locations.js';
import { Repository } from '../../../src/core/store/repository.js';

const folders: string[] = [];
afterEach(async () => Promise.all(folders.splice(0).map((f) => rm(f, { recursive: true, force: true }))));

async function repository(): Promise<{ root: string; store: LocalBackend; locations: () => PushLocations; notes: string[] }> {
  const root = await mkdtemp(join(tmpdir(), 'aim-push-index-'));
  folders.push(root);
  const store = new LocalBackend(join(root, 'repo'));
  await mkdir(join(root, 'repo'));
  const notes: string[] = [];
  const cache = new IndexCache(join(root, 'home', 'cache'), join(root, 'home'));
  return { root, store, notes, locations: () => new PushLocations(new Repository('r', store), 'm', (note) => notes.push(note), cache) };
}

const hex = (n: number, prefix = ''): string => `${prefix}${n.toString(16)}`.padEnd(64, '7');
const entriesOf = (count: number, from = 0, prefix = '1'): PackEntry[] =>
  Array.from({ length: count }, (_, i) => ({ digest: digestFromHex(hex(from + i, prefix)), offset: i * 10, size: 10 }));
const packId = (n: number): string => n.toString(16).padStart(32, 'a');

describe('index shards and key objects', () => {
  it('a push index is cut into shards of at most 32,768 entries that together name every entry once', () => {
    const packs = new Map([
      [packId(1), entriesOf(20_000, 0)],
      [packId(2), entriesOf(40_000, 20_000)], // one pack past a shard on its own: split
      [packId(3), entriesOf(5, 60_000)],
    ]);
    const shards = shardsOf(packs);
    expect(shards.length).toBe(3);
    const named: string[] = [];
    for (const shard of shards) {
      const size = [...shard.values()].reduce((sum, entries) => sum + entries.length, 0);
      expect(size).toBeLessThanOrEqual(SHARD_ENTRIES);
      for (const entries of shard.values()) named.push(...entries.map((entry) => entry.digest));
    }
    expect(named.sort()).toEqual([...packs.values()].flat().map((entry) => entry.digest).sort());
    expect(shardsOf(new Map())).toEqual([]);
  });

  it('each key chunk gets a key object naming the shard that lists it; an existing key object is kept', async () => {
    const { store } = await repository();
    const keyed = entriesOf(3, 0, '00');
    const packs = new Map([[packId(1), [...entriesOf(SHARD_ENTRIES), keyed[0]!]], [packId(2), keyed.slice(1)]]);
    const planted = keyObjectKey(keyed[2]!.digest);
    await store.put(planted, Buffer.from(`${'f'.repeat(32)}\n`));
    const shards = await writeIndexShards(store, packs);
    await writeKeyObjects(store, shards);

    expect(shards.length).toBe(2);
    for (const { digest } of keyed.slice(0, 2)) {
      const shard = (await store.get(keyObjectKey(digest))).toString().trim();
      const named = shards.find((one) => one.id === shard)!;
      expect([...named.packs.values()].flat().some((entry) => entry.digest === digest)).toBe(true);
    }
    expect((await store.get(planted)).toString()).toBe(`${'f'.repeat(32)}\n`);
    let keys = 0;
    for await (const _ of store.list('keys/')) keys++;
    expect(keys).toBe(3); // the key chunks only, not the 32,768 others
  });
});

describe('where a push learns chunks: key chunks and their shards', () => {
  async function storedShard(store: LocalBackend, key: Digest): Promise<{ id: string; neighbours: PackEntry[] }> {
    const neighbours = entriesOf(50);
    const [shard] = await writeIndexShards(store, new Map([[packId(7), [...neighbours, { digest: key, offset: 500, size: 10 }]]]));
    await writeKeyObjects(store, [shard!]);
    return { id: shard!.id, neighbours };
  }

  it('an unknown key chunk leads to its shard, and the whole shard is learned (its neighbours too)', async () => {
    const { store, locations } = await repository();
    const key = digestFromHex(hex(1, '00'));
    const { neighbours } = await storedShard(store, key);
    const pushing = locations();
    expect(await pushing.has(neighbours[0]!.digest, 10)).toBe(false); // not a key chunk: nothing to ask
    expect(await pushing.has(key, 10)).toBe(true);
    expect(await pushing.has(neighbours[0]!.digest, 10)).toBe(true);
    expect(await pushing.has(neighbours[1]!.digest, 11)).toBe(false); // another size is another chunk
    expect(pushing.lookup(neighbours[3]!.digest)).toEqual({ pack: packId(7), offset: 30, size: 10 });
  });

  it('reads no index file but the shards key chunks name: a huge or broken foreign index file is never opened', async () => {
    const { root, store, locations } = await repository();
    await mkdir(join(root, 'repo', 'index'), { recursive: true });
    await writeFile(join(root, 'repo', 'index', `${'b'.repeat(32)}.json`), '{"packs": ');
    await writeFile(join(root, 'repo', 'index', `${'c'.repeat(32)}.json`), '');
    await truncate(join(root, 'repo', 'index', `${'c'.repeat(32)}.json`), 1.5 * 1024 ** 3);
    const key = digestFromHex(hex(2, '00'));
    await storedShard(store, key);
    expect(await locations().has(key, 10)).toBe(true);
  });

  it('a hostile key object (garbage, a missing, huge or broken shard, a link) gives no dedupe and no error', async () => {
    const { root, store, locations, notes } = await repository();
    const plant = async (n: number, body: string): Promise<Digest> => {
      const key = digestFromHex(hex(n, '00'));
      const path = join(root, 'repo', ...keyObjectKey(key).split('/'));
      await mkdir(join(path, '..'), { recursive: true });
      await writeFile(path, body);
      return key;
    };
    await mkdir(join(root, 'repo', 'index'), { recursive: true });
    await writeFile(join(root, 'repo', 'index', `${'d'.repeat(32)}.json`), '{"format": 1, "packs": {"../x": []}}');
    await writeFile(join(root, 'repo', 'index', `${'e'.repeat(32)}.json`), '');
    await truncate(join(root, 'repo', 'index', `${'e'.repeat(32)}.json`), 1.5 * 1024 ** 3);
    const keys = [
      await plant(1, 'not a shard id at all'),
      await plant(2, randomBytes(4096).toString('latin1')),
      await plant(3, `${'9'.repeat(32)}\n`), // no such index file
      await plant(4, `${'d'.repeat(32)}\n`), // an index file that does not read
      await plant(5, `${'e'.repeat(32)}\n`), // far bigger than any shard
    ];
    const linked = digestFromHex(hex(6, '00'));
    const { id } = await storedShard(store, digestFromHex(hex(7, '00')));
    const linkPath = join(root, 'repo', ...keyObjectKey(linked).split('/'));
    await mkdir(join(linkPath, '..'), { recursive: true });
    await symlink(join(root, 'repo', 'index', `${id}.json`), linkPath);
    keys.push(linked);

    const pushing = locations();
    for (const key of keys) expect(await pushing.has(key, 10)).toBe(false);
    expect(notes).toEqual([]);
  });

  it('learns at most MAX_SHARDS shards in one push, however many key chunks lead elsewhere', async () => {
    const { store, locations } = await repository();
    const keys: Digest[] = [];
    for (let n = 0; n < 40; n++) {
      const key = digestFromHex(hex(100 + n, '00'));
      const [shard] = await writeIndexShards(store, new Map([[packId(n), [{ digest: key, offset: 0, size: 10 }]]]));
      await writeKeyObjects(store, [shard!]);
      keys.push(key);
    }
    const pushing = locations();
    const known = await Promise.all(keys.map((key) => pushing.has(key, 10)));
    expect(known.filter(Boolean).length).toBe(MAX_SHARDS);
    expect(pushing.size).toBe(MAX_SHARDS);
  });
});

describe('pending pushes', () => {
  const chunk = async (): Promise<{ digest: Digest; bytes: Buffer }> => {
    const bytes = randomBytes(200_000);
    return { digest: await digestOf(bytes), bytes };
  };

  it('a killed push leaves a pending record and prefix-named packs that the next push takes back', async () => {
    const { root, store } = await repository();
    const writer = new PackWriter(store, { learn: () => undefined }, newPushId());
    const { digest, bytes } = await chunk();
    await writer.add(digest, bytes);
    await writer.finish();
    await rm(join(root, 'repo', 'index'), { recursive: true }); // killed before its index
    expect(await readdir(join(root, 'repo', 'pending'))).toEqual([writer.pushId]);
    const [pack] = await readdir(join(root, 'repo', 'packs', writer.pushId.slice(0, 2)));
    expect(pack!.startsWith(writer.pushId)).toBe(true);

    const adopted = await adoptPendingPacks(store, newPushId());
    expect(adopted.pushIds).toEqual([writer.pushId]);
    expect([...adopted.packs.values()].flat().map((entry) => entry.digest)).toEqual([digest]);
    expect((await adoptPendingPacks(store, writer.pushId)).packs.size).toBe(0); // its own record is not its to adopt
  });

  it('garbage, oddly named or linked pending records and packs whose footers do not read are passed over', async () => {
    const { root, store } = await repository();
    const pending = join(root, 'repo', 'pending');
    await mkdir(pending, { recursive: true });
    const ids = ['1'.repeat(16), '2'.repeat(16), '3'.repeat(16)];
    await writeFile(join(pending, ids[0]!), 'not json');
    await writeFile(join(pending, ids[1]!), JSON.stringify({ startedAt: 'x'.repeat(5000) }));
    await writeFile(join(pending, ids[2]!), JSON.stringify({ startedAt: new Date().toISOString() }));
    await writeFile(join(pending, '../../etc'.replace(/\//g, '_')), '{}');
    await writeFile(join(pending, 'ABCDEF0123456789'), JSON.stringify({ startedAt: new Date().toISOString() }));
    await symlink('/etc/hostname', join(pending, '4'.repeat(16)));
    for (const id of [...ids, '4'.repeat(16)]) {
      await mkdir(join(root, 'repo', 'packs', id.slice(0, 2)), { recursive: true });
      await writeFile(join(root, 'repo', 'packs', id.slice(0, 2), `${id}${'0'.repeat(16)}`), randomBytes(3000)); // no footer
    }
    const footerOnly = Buffer.alloc(4);
    footerOnly.writeUInt32LE(0xffffff00);
    await writeFile(join(root, 'repo', 'packs', '33', `${ids[2]}${'1'.repeat(16)}`), footerOnly);

    const adopted = await adoptPendingPacks(store, newPushId());
    expect(adopted.packs.size).toBe(0);
    expect(adopted.pushIds).toEqual([]); // a record that is recent and brought nothing back may be a push starting
  });
});
