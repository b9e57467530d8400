// The S3 backend between a real server (s3rver, radosgw) and a proxy that breaks the network on purpose. Every operation either
// succeeds with byte-identical data or fails with one plain StorageError; nothing half-written is ever trusted.
import { randomBytes, randomUUID } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RepoLocation } from '../../src/backends/backend.js';
import { S3Backend } from '../../src/backends/s3/s3.js';
import { type S3Settings, s3Settings } from '../../src/settings/s3.js';
import { StorageError } from '../../src/lib/errors.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { useS3rverCredentials } from '../helpers/s3-server.js';
import { s3Servers } from '../helpers/s3-servers.js';

useS3rverCredentials();
const settings: S3Settings = {
  ...s3Settings({}),
  maxAttempts: 6,
  retryBaseMs: 20,
  retryMaxMs: 200,
  requestTimeoutMs: 4_000,
  idleTimeoutMs: 600,
  connectTimeoutMs: 1_000,
};
/** For clients that are not testing stalls: s3rver is one thread shared by every test file, and under CI's load a
 * reply can take longer than the 600 ms the stall tests need (a client then spends its attempts for nothing). */
const patient: Partial<S3Settings> = { requestTimeoutMs: 30_000, idleTimeoutMs: 10_000 };
/** Waits on s3rver (listing, stat) that may be slow under load: vitest's default poll gives up after 1 s. */
const slowServer = { timeout: 30_000, interval: 100 };
const MiB = 1024 * 1024;

/** Resolves once a connection from this process to `port` is refused (Node's net.client.socket channel). */
function connectionRefused(port: number): { happened: Promise<void>; stop(): void } {
  let onSocket: (message: unknown) => void = () => undefined;
  const happened = new Promise<void>((resolve) => {
    onSocket = (message) => {
      (message as { socket: Socket }).socket.once('error', (error: NodeJS.ErrnoException & { port?: number }) => {
        if (error.code === 'ECONNREFUSED' && error.port === port) resolve();
      });
    };
    subscribe('net.client.socket', onSocket);
  });
  return { happened, stop: () => unsubscribe('net.client.socket', onSocket) };
}

async function failure(promise: Promise<unknown>): Promise<StorageError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StorageError);
  return error as StorageError;
}

describe.each(s3Servers())('S3 backend on $name through a faulty network', (server) => {
  const prefix = `faults-${randomUUID()}`;
  const where = (endpoint: string): RepoLocation => ({
    type: 's3',
    path: `s3://${server.bucket}/${prefix}`,
    endpoint,
    region: 'us-east-1',
  });
  let proxy: FaultProxy;
  let backend: S3Backend;
  /** The same prefix without the proxy, to see what the server really stored. */
  let direct: S3Backend;
  beforeAll(async () => {
    proxy = await startFaultProxy({ host: '127.0.0.1', port: Number(new URL(server.endpoint).port) });
    backend = new S3Backend(where(proxy.endpoint), { ...settings, ...patient });
    direct = new S3Backend(where(server.endpoint), { ...settings, ...patient });
  });
  afterEach(async () => {
    proxy.set({ latencyMs: 0, bytesPerSecond: 0, resets: 0, stalls: 0, slowDownRate: 0, answer: undefined });
    await proxy.up(); // a test that took the port down gives it back
  });
  afterAll(async () => {
    await backend.close();
    for await (const item of direct.list('')) await direct.delete(item.key);
    await direct.close();
    await proxy.stop();
  });

  it('moves data intact through added latency', async () => {
    proxy.set({ latencyMs: 40 });
    const data = randomBytes(MiB);
    expect(await backend.putIfAbsent('latency/blob', data)).toBe(true);
    expect((await backend.get('latency/blob')).equals(data)).toBe(true);
    expect((await backend.getRange('latency/blob', 1000, 2000)).equals(data.subarray(1000, 3000))).toBe(true);
  });

  it('retries uploads and downloads cut by connection resets', async () => {
    const data = randomBytes(2 * MiB + 123);
    proxy.set({ resetAfterBytes: 300_000, resets: 3 });
    expect(await backend.putIfAbsent('reset/blob', data)).toBe(true);
    expect(proxy.stats.resets).toBeGreaterThanOrEqual(3);
    expect((await direct.get('reset/blob')).equals(data)).toBe(true);
    const before = proxy.stats.resets;
    proxy.set({ resetAfterBytes: 700_000, resets: 3 });
    expect((await backend.get('reset/blob')).equals(data)).toBe(true);
    expect((await backend.getRange('reset/blob', 100, MiB)).equals(data.subarray(100, 100 + MiB))).toBe(true);
    expect(proxy.stats.resets - before).toBe(3);
  });

  // Only s3rver keeps the partial body of an upload cut short; S3 and radosgw store a PUT whole or not at all.
  if (server.name === 's3rver') {
    it('rewrites the truncated remnant a dropped upload leaves on s3rver', async () => {
      const once = new S3Backend(where(proxy.endpoint), { ...settings, ...patient, maxAttempts: 1 });
      const data = randomBytes(MiB);
      proxy.set({ resetAfterBytes: 400_000, resets: 1 });
      const error = await failure(once.putIfAbsent('remnant/first', data));
      expect(error.message).toMatch(/^cannot write s3:\/\/.*\/remnant\/first: the connection dropped \(ECONNRESET\)/);
      // s3rver keeps the partial body of a first write, without aim's size record: listed, but not stat-ed as stored.
      const listedSize = async () => {
        for await (const item of direct.list('remnant/first')) return item.size;
        return undefined;
      };
      await expect.poll(listedSize, slowServer).toBeGreaterThan(300_000);
      expect(await listedSize()).toBeLessThan(400_000);
      expect(await direct.stat('remnant/first')).toBeUndefined();
      expect(await once.putIfAbsent('remnant/first', data)).toBe(true);
      expect(await direct.stat('remnant/first')).toEqual({ key: 'remnant/first', size: MiB });
      expect((await direct.get('remnant/first')).equals(data)).toBe(true);
      expect(await once.putIfAbsent('remnant/first', data)).toBe(false);

      // Over an earlier whole object, the remnant keeps the old recorded size: stat no longer counts it as stored.
      await once.put('remnant/second', data.subarray(0, 1000));
      proxy.set({ resetAfterBytes: 400_000, resets: 1 });
      await failure(once.put('remnant/second', data));
      await expect.poll(() => direct.stat('remnant/second'), slowServer).toBeUndefined();
      expect(await once.putIfAbsent('remnant/second', data)).toBe(true);
      expect((await direct.get('remnant/second')).equals(data)).toBe(true);
      await once.close();
    });
  }

  it('times out stalled connections and retries them', async () => {
    // Short enough to see the two stalls, with attempts to spare for replies that s3rver, under load, sends late.
    const stalling = new S3Backend(where(proxy.endpoint), { ...settings, idleTimeoutMs: 1_500, maxAttempts: 10 });
    try {
      const data = randomBytes(MiB);
      await direct.put('stall/blob', data);
      proxy.set({ stallAfterBytes: 200_000, stalls: 2 });
      const connections = proxy.stats.connections;
      expect((await stalling.get('stall/blob')).equals(data)).toBe(true);
      expect(proxy.stats.stalls).toBe(2);
      // Each stalled attempt was given up and its connection dropped: the third attempt came on a new connection.
      expect(proxy.stats.connections - connections).toBeGreaterThanOrEqual(3);
      proxy.set({ stallAfterBytes: 200_000, stalls: 2 });
      await stalling.put('stall/up', data);
      expect((await direct.get('stall/up')).equals(data)).toBe(true);
    } finally {
      await stalling.close();
    }
  });

  it('gives up on a connection that always stalls with one plain StorageError', async () => {
    const few = new S3Backend(where(proxy.endpoint), { ...settings, maxAttempts: 2 });
    proxy.set({ stallAfterBytes: 10, stalls: 100 });
    const error = await failure(few.get('stall/blob'));
    expect(error.message).toMatch(/^cannot read s3:\/\/.*\/stall\/blob: .* talking to http:\/\/127\.0\.0\.1:\d+ \(after 2 attempts\)$/);
    expect(error.hint).toMatch(/transfers resume where they stopped/);
    await few.close();
  });

  it('backs off and succeeds when the server throttles a share of requests', async () => {
    const paged = new S3Backend(where(proxy.endpoint), { ...settings, ...patient, maxAttempts: 10, listPageSize: 4 });
    proxy.set({ slowDownRate: 0.4, seed: 7 });
    const blobs = Array.from({ length: 12 }, (_, i) => ({ key: `throttle/${i}`, data: randomBytes(50_000 + i * 3000) }));
    await Promise.all(blobs.map(({ key, data }) => paged.putIfAbsent(key, data)));
    const listed = new Map<string, number>();
    for await (const item of paged.list('throttle/')) listed.set(item.key, item.size);
    expect(listed).toEqual(new Map(blobs.map(({ key, data }) => [key, data.length])));
    for (const { key, data } of blobs) expect((await paged.get(key)).equals(data)).toBe(true);
    expect(proxy.stats.slowDowns).toBeGreaterThan(5);
    await paged.close();
  });

  it('reports a server that never stops throttling', async () => {
    proxy.set({ slowDownRate: 1 });
    const error = await failure(backend.put('throttle/never', Buffer.from('x')));
    expect(error.message).toMatch(/^the S3 endpoint http:\/\/127\.0\.0\.1:\d+ kept throttling requests \(SlowDown\) to write s3:\/\/.*\/throttle\/never \(after 6 attempts\)$/);
    expect(error.hint).toMatch(/lower the repository's concurrency/);
  });

  it('rides out refused connections while the server comes back', async () => {
    const comesBack = new S3Backend(where(proxy.endpoint), { ...settings, ...patient, maxAttempts: 10, retryBaseMs: 100, retryMaxMs: 400 });
    const data = randomBytes(100_000);
    await proxy.down();
    const refused = connectionRefused(Number(new URL(proxy.endpoint).port));
    const upload = comesBack.putIfAbsent('refused/blob', data);
    await refused.happened; // the client has been turned away at least once before the server comes back
    refused.stop();
    await proxy.up();
    expect(await upload).toBe(true);
    expect((await direct.get('refused/blob')).equals(data)).toBe(true);
    await comesBack.close();
  });
});
