// The counting wrapper behind AIM_IO_STATS: it must be invisible (the whole backend contract holds through it, and
// it offers exactly the optional capabilities of what it wraps) and its counts must be the calls and bytes made.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { supportsConditionalPut, supportsCreate, supportsDeferredSync, type Backend } from '../../src/backends/backend.js';
import { countingBackend, IoStats } from '../../src/backends/counting.js';
import { LocalBackend } from '../../src/backends/local.js';
import { NotFoundError } from '../../src/lib/errors.js';
import { runBackendConformance } from './conformance.js';

runBackendConformance('local, counted', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'aim-counting-'));
  return { backend: countingBackend(new LocalBackend(folder), new IoStats()), cleanup: () => rm(folder, { recursive: true, force: true }) };
});

describe('counting backend', () => {
  let folder: string;
  let stats: IoStats;
  let backend: Backend;
  beforeEach(async () => {
    folder = await mkdtemp(join(tmpdir(), 'aim-counting-'));
    stats = new IoStats();
    backend = countingBackend(new LocalBackend(folder), stats);
  });
  afterEach(() => rm(folder, { recursive: true, force: true }));

  it('counts each call and the bytes read and written by top-level prefix', async () => {
    await backend.putIfAbsent('index/a.json', Buffer.alloc(100));
    await backend.putIfAbsent('index/a.json', Buffer.alloc(100));
    await backend.put('aim-repo.json', Buffer.alloc(7));
    await backend.putIfAbsent('packs/ab/p1', Buffer.alloc(1000));
    await backend.get('index/a.json');
    await backend.getRange('packs/ab/p1', 990, 50); // clamped at the end: 10 bytes come back
    await backend.readInto!('packs/ab/p1', new Uint8Array(300), 100);
    await backend.get('aim-repo.json');
    await expect(backend.get('index/missing.json')).rejects.toBeInstanceOf(NotFoundError);
    expect(await backend.stat('packs/ab/p1')).toEqual({ key: 'packs/ab/p1', size: 1000 });
    const listed = [];
    for await (const entry of backend.list('index/')) listed.push(entry);
    for await (const entry of backend.list('packs/')) listed.push(entry);
    await backend.delete('index/a.json');

    expect(listed).toHaveLength(2);
    expect(stats.report()).toEqual({
      calls: { delete: 1, get: 3, getRange: 1, list: 2, put: 1, putIfAbsent: 3, readInto: 1, stat: 1 },
      listedEntries: 2,
      bytesRead: { 'aim-repo.json': 7, 'index/': 100, 'packs/': 310 },
      bytesWritten: { 'aim-repo.json': 7, 'index/': 200, 'packs/': 1000 },
    });
  });

  it('offers the optional capabilities of what it wraps, and only those', async () => {
    expect(supportsDeferredSync(backend)).toBe(true);
    expect(supportsCreate(backend)).toBe(true);
    expect(supportsConditionalPut(backend)).toBe(false);
    const bare: Backend = {
      location: 'bare',
      probe: async () => {},
      get: async () => Buffer.alloc(0),
      getRange: async () => Buffer.alloc(0),
      stat: async () => undefined,
      putIfAbsent: async () => true,
      put: async () => {},
      list: async function* () {},
      delete: async () => {},
    };
    const counted = countingBackend(bare, stats);
    expect(counted.readInto).toBeUndefined();
    expect(supportsDeferredSync(counted) || supportsCreate(counted) || supportsConditionalPut(counted)).toBe(false);

    const swapping = countingBackend({ ...bare, getVersioned: async () => ({ data: Buffer.alloc(5), version: 'v1' }), putIfVersion: async () => {} } as Backend, stats);
    expect(supportsConditionalPut(swapping)).toBe(true);
    if (supportsConditionalPut(swapping)) {
      await swapping.getVersioned('models/m/tags/t');
      await swapping.putIfVersion('models/m/tags/t', Buffer.alloc(3), 'v1');
    }
    expect(stats.report()).toMatchObject({ calls: { getVersioned: 1, putIfVersion: 1 }, bytesRead: { 'models/': 5 }, bytesWritten: { 'models/': 3 } });
  });

  it('counts deferred writes and their sync', async () => {
    if (!supportsDeferredSync(backend)) throw new Error('a local folder defers syncs');
    await backend.putIfAbsentUnsynced('packs/cd/p2', Buffer.alloc(64));
    await backend.sync(['packs/cd/p2']);
    expect(stats.report()).toMatchObject({ calls: { putIfAbsentUnsynced: 1, sync: 1 }, bytesWritten: { 'packs/': 64 } });
  });
});
