import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backends/backend.js';
import { NotFoundError } from '../../src/lib/errors.js';

export interface BackendUnderTest {
  backend: Backend;
  cleanup(): Promise<void>;
}

async function collect(iterable: AsyncIterable<{ key: string; size: number }>): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for await (const item of iterable) found.set(item.key, item.size);
  return found;
}

/** The one contract every backend runs unchanged (local, S3). */
export function runBackendConformance(name: string, open: () => Promise<BackendUnderTest>): void {
  describe(`backend conformance: ${name}`, () => {
    let subject: BackendUnderTest;
    let backend: Backend;
    beforeAll(async () => {
      subject = await open();
      backend = subject.backend;
    });
    afterAll(async () => {
      await backend.close?.();
      await subject.cleanup();
    });

    it('is usable for reading and writing', async () => {
      await expect(backend.probe('write')).resolves.toBeUndefined();
    });

    it('stores immutable objects once and reads them back whole and by range', async () => {
      const data = randomBytes(300_000);
      expect(await backend.putIfAbsent('blobs/blake3/aa/one', data)).toBe(true);
      expect(await backend.putIfAbsent('blobs/blake3/aa/one', randomBytes(10))).toBe(false);
      expect(Buffer.compare(await backend.get('blobs/blake3/aa/one'), data)).toBe(0);
      expect(Buffer.compare(await backend.getRange('blobs/blake3/aa/one', 1000, 5000), data.subarray(1000, 6000))).toBe(0);
      expect(Buffer.compare(await backend.getRange('blobs/blake3/aa/one', 299_990, 100), data.subarray(299_990))).toBe(0);
      expect(await backend.stat('blobs/blake3/aa/one')).toEqual({ key: 'blobs/blake3/aa/one', size: 300_000 });
    });

    it('reads objects into a caller buffer, when it offers that', async (context) => {
      if (!backend.readInto) return context.skip();
      const data = randomBytes(300_000);
      await backend.putIfAbsent('blobs/blake3/ab/into', data);
      const target = Buffer.alloc(400_000);
      expect(await backend.readInto('blobs/blake3/ab/into', target.subarray(0, 300_000))).toBe(300_000);
      expect(Buffer.compare(target.subarray(0, 300_000), data)).toBe(0);
      expect(await backend.readInto('blobs/blake3/ab/into', target, 1000)).toBe(299_000);
      expect(Buffer.compare(target.subarray(0, 299_000), data.subarray(1000))).toBe(0);
      await expect(backend.readInto('blobs/blake3/zz/missing', target)).rejects.toBeInstanceOf(NotFoundError);
    });

    it('stores empty objects', async () => {
      expect(await backend.putIfAbsent('blobs/blake3/ee/empty', new Uint8Array())).toBe(true);
      expect((await backend.get('blobs/blake3/ee/empty')).length).toBe(0);
      expect(await backend.stat('blobs/blake3/ee/empty')).toEqual({ key: 'blobs/blake3/ee/empty', size: 0 });
    });

    it('replaces mutable objects', async () => {
      await backend.put('models/m/tags/v1', Buffer.from('first'));
      await backend.put('models/m/tags/v1', Buffer.from('second'));
      expect((await backend.get('models/m/tags/v1')).toString()).toBe('second');
    });

    it('reports missing keys as NotFoundError and undefined stat', async () => {
      await expect(backend.get('blobs/blake3/zz/missing')).rejects.toBeInstanceOf(NotFoundError);
      await expect(backend.getRange('blobs/blake3/zz/missing', 0, 10)).rejects.toBeInstanceOf(NotFoundError);
      expect(await backend.stat('blobs/blake3/zz/missing')).toBeUndefined();
    });

    it('lists by prefix, across nested folders and pages', async () => {
      const keys = Array.from({ length: 25 }, (_, i) => `list/p${i % 3}/k${String(i).padStart(3, '0')}`);
      await Promise.all(keys.map((key, i) => backend.put(key, Buffer.alloc(i))));
      const all = await collect(backend.list('list/'));
      expect([...all.keys()].sort()).toEqual([...keys].sort());
      expect(all.get('list/p1/k004')).toBe(4);
      const some = await collect(backend.list('list/p1/'));
      expect([...some.keys()].sort()).toEqual(keys.filter((k) => k.startsWith('list/p1/')).sort());
      const partial = await collect(backend.list('list/p2/k00'));
      expect([...partial.keys()].sort()).toEqual(['list/p2/k002', 'list/p2/k005', 'list/p2/k008']);
      expect((await collect(backend.list('nothing-here/'))).size).toBe(0);
    });

    it('lists each object with when it was written (gc\'s grace period reads it)', async () => {
      const before = Date.now();
      await backend.put('dated/x', Buffer.from('x'));
      const listed = [];
      for await (const info of backend.list('dated/')) listed.push(info);
      expect(listed).toHaveLength(1);
      // Whole seconds on S3 (Last-Modified), and a server's clock may differ a little from ours.
      expect(Math.abs(listed[0]!.modified! - before)).toBeLessThan(60_000);
    });

    it('deletes, and deleting a missing key is fine', async () => {
      await backend.put('del/x', Buffer.from('x'));
      await backend.delete('del/x');
      expect(await backend.stat('del/x')).toBeUndefined();
      await expect(backend.delete('del/x')).resolves.toBeUndefined();
    });

    it('keeps the last of concurrent writers whole', async () => {
      const a = Buffer.alloc(200_000, 1);
      const b = Buffer.alloc(200_000, 2);
      await Promise.all([backend.put('race/tag', a), backend.put('race/tag', b)]);
      const got = await backend.get('race/tag');
      expect(got.equals(a) || got.equals(b)).toBe(true);
      const results = await Promise.all([backend.putIfAbsent('race/blob', a), backend.putIfAbsent('race/blob', a)]);
      expect((await backend.get('race/blob')).equals(a)).toBe(true);
      // Exactly one writer created it; the other learnt that it was already there.
      expect(results.filter(Boolean)).toHaveLength(1);
    });
  });
}
