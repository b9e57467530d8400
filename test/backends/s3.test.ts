import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RepoLocation } from '../../src/backends/backend.js';
import { openBackend, supportsConditionalPut } from '../../src/backends/index.js';
import { S3Backend } from '../../src/backends/s3/s3.js';
import { parseS3Path } from '../../src/backends/s3/s3-client.js';
import { type S3Settings, s3Settings } from '../../src/settings/s3.js';
import { ConfigError, ConflictError, NotFoundError, StorageError } from '../../src/lib/errors.js';
import { closedPort } from '../helpers/fault-proxy.js';
import { S3RVER_ENV, useS3rverCredentials } from '../helpers/s3-server.js';
import { type S3ServerUnderTest, s3Servers } from '../helpers/s3-servers.js';
import { runBackendConformance } from './conformance.js';

useS3rverCredentials();
const server = inject('s3');
// Few, quick retries; a request may still take long (s3rver is shared by every test file and slow under load).
const fast: S3Settings = { ...s3Settings({}), maxAttempts: 2, retryBaseMs: 10, requestTimeoutMs: 30_000 };

function locationOn(prefix: string, extra: Partial<RepoLocation> = {}, target: S3ServerUnderTest = { name: 's3rver', ...server }): RepoLocation {
  return { type: 's3', path: `s3://${target.bucket}/${prefix}`, endpoint: target.endpoint, region: 'us-east-1', ...extra };
}

async function removeAll(backend: S3Backend): Promise<void> {
  for await (const item of backend.list('')) await backend.delete(item.key);
  await backend.close();
}

async function keysOf(backend: S3Backend, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const item of backend.list(prefix)) keys.push(item.key);
  return keys.sort();
}

for (const target of s3Servers()) {
  runBackendConformance(`s3 (${target.name})`, async () => {
    const prefix = `conformance-${randomUUID()}`;
    const at = locationOn(prefix, {}, target);
    return { backend: new S3Backend(at), cleanup: () => removeAll(new S3Backend(at)) };
  });
}

describe.each(s3Servers())('S3 backend on $name', (target) => {
  const prefix = `s3-specific-${randomUUID()}`;
  const location = (prefix: string, extra: Partial<RepoLocation> = {}) => locationOn(prefix, extra, target);
  const server = target;
  let backend: S3Backend;
  beforeAll(() => {
    backend = new S3Backend(location(prefix));
  });
  afterAll(() => removeAll(backend));

  it('opens through openBackend and offers conditional puts', async () => {
    const opened = await openBackend(location(prefix));
    expect(opened).toBeInstanceOf(S3Backend);
    expect(supportsConditionalPut(opened)).toBe(true);
    expect(opened.location).toBe(`s3://${server.bucket}/${prefix}`);
    await opened.close?.();
  });

  it('lists across many pages and keeps neighbouring prefixes apart', async () => {
    const paged = new S3Backend(location(`${prefix}/pages`), { ...fast, listPageSize: 3 });
    const neighbour = new S3Backend(location(`${prefix}/pages2`));
    const keys = Array.from({ length: 17 }, (_, i) => `k/${String(i).padStart(2, '0')}`);
    await Promise.all(keys.map((key) => paged.put(key, Buffer.from(key))));
    await neighbour.put('k/other', Buffer.from('x'));
    expect(await keysOf(paged, '')).toEqual(keys);
    expect(await keysOf(paged, 'k/1')).toEqual(keys.filter((k) => k.startsWith('k/1')));
    expect(await keysOf(neighbour, '')).toEqual(['k/other']);
    await neighbour.close();
    await paged.close();
  });

  it('reads back through its lean GET what the SDK wrote, under a prefix with characters URLs escape', async () => {
    // Reads skip the SDK's middleware (s3-lean-get.ts) and must build the same object path the SDK's writes did.
    const odd = new S3Backend(location(`${prefix}/odd name (1)!*'~+=&,;@$`));
    const data = Buffer.from('lean get');
    await odd.put('blobs/ab/c d', data);
    expect((await odd.get('blobs/ab/c d')).equals(data)).toBe(true);
    const target = Buffer.alloc(4);
    expect(await odd.readInto('blobs/ab/c d', target, 2)).toBe(4);
    expect(target.toString()).toBe('an g');
    expect((await odd.getVersioned('blobs/ab/c d'))?.version).toMatch(/^"[0-9a-f]{32}"$/);
    await expect(odd.get('blobs/ab/missing')).rejects.toBeInstanceOf(NotFoundError);
    await removeAll(odd);
  });

  it('reads ranges past the end as empty and zero-length ranges as empty', async () => {
    await backend.put('range/x', Buffer.from('0123456789'));
    expect((await backend.getRange('range/x', 10, 5)).length).toBe(0);
    expect((await backend.getRange('range/x', 50, 5)).length).toBe(0);
    expect((await backend.getRange('range/x', 3, 0)).length).toBe(0);
    expect((await backend.getRange('range/x', 8, 100)).toString()).toBe('89');
    await expect(backend.getRange('range/missing', 0, 0)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('compares and swaps tags by ETag, and refuses stale writers', async () => {
    expect(await backend.getVersioned('tags/v1')).toBeUndefined();
    await backend.putIfVersion('tags/v1', Buffer.from('one'), undefined);
    const first = await backend.getVersioned('tags/v1');
    expect(first?.data.toString()).toBe('one');
    expect(first?.version).toMatch(/^"[0-9a-f]{32}"$/);
    await expect(backend.putIfVersion('tags/v1', Buffer.from('again'), undefined)).rejects.toBeInstanceOf(ConflictError);
    await backend.putIfVersion('tags/v1', Buffer.from('two'), first!.version);
    await expect(backend.putIfVersion('tags/v1', Buffer.from('three'), first!.version)).rejects.toThrow(
      /tags\/v1 in s3:\/\/.* was changed by another writer/,
    );
    expect((await backend.get('tags/v1')).toString()).toBe('two');
  });

  it('probes a bucket that does not exist as NotFoundError naming the bucket', async () => {
    const missing = new S3Backend({ ...location('x'), path: 's3://aim-no-such-bucket/x' }, fast);
    const error = await missing.probe('read').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).message).toBe(`bucket aim-no-such-bucket does not exist on the S3 endpoint ${server.endpoint}`);
    expect((error as NotFoundError).hint).toContain('aws s3 mb s3://aim-no-such-bucket');
    await expect(missing.get('a')).rejects.toThrow(/bucket aim-no-such-bucket does not exist/);
    await expect(missing.put('a', Buffer.from('a'))).rejects.toThrow(/bucket aim-no-such-bucket does not exist/);
    await expect(keysOf(missing, '')).rejects.toBeInstanceOf(NotFoundError);
    await missing.close();
  });

  it('reports an unreachable endpoint as a StorageError after retrying', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const unreachable = new S3Backend(location('x', { endpoint }), fast);
    const error = await unreachable.probe('write').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).message).toBe(
      `cannot check s3://${server.bucket}/x: connection refused talking to ${endpoint} (after 2 attempts)`,
    );
    expect((error as StorageError).hint).toContain(`server at ${endpoint} is running`);
    await unreachable.close();
  });

  it('reports missing credentials with a hint naming the variables', async () => {
    const saved = { ...process.env };
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    try {
      const anonymous = new S3Backend(location('x'), fast);
      const error = await anonymous.probe('read').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).message).toBe(`no AWS credentials found to check s3://${server.bucket}/x`);
      expect((error as StorageError).hint).toMatch(/AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE/);
      await anonymous.close();
      const profiled = new S3Backend(location('x', { profile: 'aim-missing-profile' }), fast);
      await expect(profiled.probe('read')).rejects.toThrow(/no AWS credentials found/);
      const hint = await profiled.probe('read').catch((e: StorageError) => e.hint);
      expect(hint).toContain('profile "aim-missing-profile"');
      await profiled.close();
    } finally {
      Object.assign(process.env, saved);
    }
    expect(process.env.AWS_ACCESS_KEY_ID).toBe(S3RVER_ENV.AWS_ACCESS_KEY_ID);
  });
});

describe('S3 locations and settings', () => {
  it('parses bucket and prefix', () => {
    expect(parseS3Path('s3://b')).toEqual({ bucket: 'b', prefix: '' });
    expect(parseS3Path('s3://b/')).toEqual({ bucket: 'b', prefix: '' });
    expect(parseS3Path('s3://b/models/team/')).toEqual({ bucket: 'b', prefix: 'models/team/' });
    expect(parseS3Path('s3://b//a//b')).toEqual({ bucket: 'b', prefix: 'a/b/' });
    expect(() => parseS3Path('/srv/models')).toThrow(ConfigError);
    expect(() => parseS3Path('s3://')).toThrow(/is not an S3 path/);
    const bad = { type: 's3', path: 's3://b', checksums: 'always' } as unknown as RepoLocation;
    expect(() => new S3Backend(bad)).toThrow('checksums: always is not a checksum mode');
  });

  it('reads the AIM_S3_* knobs and names every bad one', () => {
    const settings = s3Settings({ AIM_S3_MAX_ATTEMPTS: '3', AIM_S3_LIST_PAGE_SIZE: '5000', AIM_S3_REQUEST_TIMEOUT_MS: '250' });
    expect(settings).toMatchObject({ maxAttempts: 3, listPageSize: 1000, requestTimeoutMs: 250 });
    expect(() => s3Settings({ AIM_S3_MAX_ATTEMPTS: '0', AIM_S3_IDLE_TIMEOUT_MS: 'soon' })).toThrow(
      'AIM_S3_MAX_ATTEMPTS="0" must be a whole number from 1 to 100; AIM_S3_IDLE_TIMEOUT_MS="soon" must be a whole number from 1 to 2147483647',
    );
  });
});
