// The built CLI against real S3-compatible servers (the suite's s3rver and Ceph radosgw), as a user runs it: repo create, push,
// list, versions, pull, inspect, verify, delete-version, delete; a push and a pull killed with SIGKILL and resumed;
// and transfers through the fault proxy.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { S3Backend } from '../../src/backends/s3/s3.js';
import { createWorkspace, expectSameTree, expectUserError, killWhen, type RepoEntry, type Workspace } from '../helpers/cli.js';
import { closedPort, type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { S3RVER_ENV, useS3rverCredentials } from '../helpers/s3-server.js';
import { type S3ServerUnderTest, s3Servers } from '../helpers/s3-servers.js';

useS3rverCredentials();
const server = inject('s3');
const MiB = 1024 * 1024;
/**
 * S3 test keys, plus retry knobs short enough for tests. The idle timeout is long: s3rver is one thread shared by
 * every test file and answers late under load, and a retried range read would break the tests counting bytes.
 */
const env = { ...S3RVER_ENV, AIM_S3_RETRY_BASE_MS: '20', AIM_S3_RETRY_MAX_MS: '200', AIM_S3_MAX_ATTEMPTS: '8', AIM_S3_IDLE_TIMEOUT_MS: '10000' };

async function makeModel(dir: string, files: Record<string, number>): Promise<void> {
  for (const [path, size] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), randomBytes(size));
  }
}

function s3RepoOn(target: S3ServerUnderTest, prefix: string, endpoint = target.endpoint): RepoEntry {
  return { type: 's3', path: `s3://${target.bucket}/${prefix}`, region: 'us-east-1', endpoint };
}

async function bytesUnder(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  let total = 0;
  for (const entry of entries) if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name)).catch(() => ({ size: 0 }))).size;
  return total;
}

describe.each(s3Servers())('aim on an S3 repository on $name (e2e)', (server) => {
  const prefix = `e2e-${randomUUID()}`;
  const s3Repo = (where: string, endpoint?: string) => s3RepoOn(server, where, endpoint);
  let ws: Workspace;
  let proxy: FaultProxy;
  /** Looks at the bucket directly, to time kills and check what the server holds. */
  let direct: S3Backend;
  beforeAll(async () => {
    ws = await createWorkspace(undefined, env);
    proxy = await startFaultProxy({ host: '127.0.0.1', port: Number(new URL(server.endpoint).port) });
    direct = new S3Backend({ type: 's3', path: `s3://${server.bucket}/${prefix}`, endpoint: server.endpoint, region: 'us-east-1' });
  });
  afterAll(async () => {
    for await (const item of direct.list('')) await direct.delete(item.key);
    await direct.close();
    await proxy.stop();
    await ws.cleanup();
  });

  it('creates, pushes, lists, pulls, inspects, verifies and deletes', async () => {
    await ws.json(['repo', 'create', 'team', '--type', 's3', '--path', `s3://${server.bucket}/${prefix}/team`, '--region', 'us-east-1', '--endpoint', server.endpoint]);
    const model = ws.path('resnet');
    await makeModel(model, { 'weights.bin': 5 * MiB, 'config.json': 300, 'tokenizer/vocab.txt': 70_000 });
    const pushed = await ws.json(['model', 'push', 'team', 'resnet', model, '--tag', 'v1']);
    expect(pushed).toMatchObject({ repo: 'team', model: 'resnet', tag: 'v1', files: 3, tagOutcome: 'created' });
    expect(pushed.bytesTransferred).toBe(pushed.totalBytes);

    const listed = await ws.json(['model', 'list', 'team']);
    expect(listed.models.map((m: { name: string }) => m.name)).toEqual(['resnet']);
    const versions = await ws.json(['model', 'versions', 'team', 'resnet']);
    expect(versions.versions.map((v: { tag: string }) => v.tag).sort()).toEqual(['latest', 'v1']);

    await ws.json(['model', 'pull', 'team', 'resnet', ws.path('pulled'), '--tag', 'v1']);
    await expectSameTree(ws.path('pulled'), model);
    const inspected = await ws.json(['inspect', 'team/resnet:v1']);
    expect(inspected.digest).toBe(pushed.digest);
    expect(inspected.files.map((f: { path: string }) => f.path).sort()).toEqual(['config.json', 'tokenizer/vocab.txt', 'weights.bin']);
    expect(await ws.json(['verify', 'team', 'resnet:v1'])).toMatchObject({ ok: true, problems: [] });

    // A second version that changes one small file moves only that file's chunks.
    await writeFile(join(model, 'config.json'), '{"changed": true}');
    const second = await ws.json(['model', 'push', 'team', 'resnet', model, '--tag', 'v2']);
    expect(second.bytesTransferred).toBeLessThan(1000);
    // Moving `latest` is a compare-and-swap: on radosgw it must work with that server's If-Match rules.
    expect((await ws.json(['inspect', 'team/resnet:latest'])).digest).toBe(second.digest);
    await ws.json(['model', 'delete-version', 'team', 'resnet', '--tag', 'v1']);
    const after = await ws.json(['model', 'versions', 'team', 'resnet']);
    expect(after.versions.map((v: { tag: string }) => v.tag)).not.toContain('v1');
    await ws.json(['model', 'delete', 'team', 'resnet']);
    expect((await ws.json(['model', 'list', 'team'])).models).toEqual([]);
  });

  // Loose chunks land one by one; packs land ~16 MiB at a time and are indexed only at the end of the push, so the
  // resumed push must find the killed one's packs by their footers. (The proxy takes a request's body at once and
  // trickles it on, so the client sees no traffic while a whole pack drains: the idle timeout must outlast that.)
  // The rates leave seconds between the first object landing and the push ending, for the kill to come between.
  it.each([
    { layout: 'loose chunks', packs: false, shards: 6, shard: 2 * MiB, rate: MiB, concurrency: 2, landed: 'blobs/', atLeast: 3, idleMs: env.AIM_S3_IDLE_TIMEOUT_MS },
    { layout: 'packs', packs: true, shards: 8, shard: 6 * MiB, rate: 4 * MiB, concurrency: undefined, landed: 'packs/', atLeast: 1, idleMs: '15000' },
  ])('resumes a push killed with SIGKILL, sending only what is missing ($layout)', async ({ layout, packs, shards, shard, rate, concurrency, landed, atLeast, idleMs }) => {
    const where = `${prefix}/resume-${layout.replace(' ', '-')}`;
    const resume = await createWorkspace({ slow: { ...s3Repo(where, proxy.endpoint), packs, concurrency } }, { ...env, AIM_S3_IDLE_TIMEOUT_MS: idleMs });
    const model = resume.path('model');
    await makeModel(model, Object.fromEntries(Array.from({ length: shards }, (_, i) => [`shard-${i}.bin`, shard])));
    proxy.set({ bytesPerSecond: rate });
    const running = resume.start(['model', 'push', 'slow', 'big', model, '--tag', 'v1']);
    const stored = new S3Backend({ type: 's3', path: `s3://${server.bucket}/${where}`, endpoint: server.endpoint });
    // Listed is not enough: s3rver lists an object while its body is still arriving. stat counts only whole ones.
    const count = async () => {
      let n = 0;
      for await (const { key } of stored.list(landed)) if (await stored.stat(key)) n++;
      return n;
    };
    await killWhen(running, async () => (await count()) >= atLeast);
    const landedBefore = await count();
    proxy.set({ bytesPerSecond: 0 });
    const resumed = await resume.json(['model', 'push', 'slow', 'big', model, '--tag', 'v1']);
    expect(resumed.bytesSkipped).toBeGreaterThan(0);
    expect(resumed.bytesTransferred).toBeLessThan(resumed.totalBytes);
    if (packs) {
      // What the killed push stored whole was reused: about a pack's worth of chunks per pack that landed.
      expect(resumed.bytesSkipped).toBeGreaterThanOrEqual(landedBefore * 14 * MiB);
      const indexed = [];
      for await (const { key } of stored.list('index/')) indexed.push(key);
      expect(indexed).toHaveLength(1);
    }
    await resume.json(['model', 'pull', 'slow', 'big', resume.path('out'), '--tag', 'v1']);
    await expectSameTree(resume.path('out'), model);
    expect(await resume.json(['verify', 'slow', 'big:v1'])).toMatchObject({ ok: true });
    await stored.close();
    await resume.cleanup();
  });

  it('resumes a pull killed with SIGKILL, keeping what was verified', async () => {
    const resume = await createWorkspace({ direct: s3Repo(`${prefix}/pull`), slow: s3Repo(`${prefix}/pull`, proxy.endpoint) }, env);
    const model = resume.path('model');
    await makeModel(model, Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`shard-${i}.bin`, 2 * MiB])));
    await resume.json(['model', 'push', 'direct', 'big', model, '--tag', 'v1']);
    proxy.set({ bytesPerSecond: 2 * MiB });
    const dest = resume.path('out');
    const running = resume.start(['model', 'pull', 'slow', 'big', dest, '--tag', 'v1']);
    await killWhen(running, async () => (await bytesUnder(dest)) >= 5 * MiB);
    proxy.set({ bytesPerSecond: 0 });
    const resumed = await resume.json(['model', 'pull', 'slow', 'big', dest, '--tag', 'v1']);
    expect(resumed.bytesTransferred).toBeLessThan(resumed.totalBytes);
    await expectSameTree(dest, model);
    await resume.cleanup();
  });

  it('pulls from packs with byte ranges: about the file size crosses the wire, in far fewer requests than chunks', async () => {
    const ws2 = await createWorkspace({ direct: s3Repo(`${prefix}/ranges`), watched: s3Repo(`${prefix}/ranges`, proxy.endpoint) }, env);
    const model = ws2.path('model');
    await makeModel(model, { 'weights.bin': 40 * MiB, 'config.json': 500 });
    await ws2.json(['model', 'push', 'direct', 'm', model, '--tag', 'v1']);
    const manifest = (await ws2.json(['inspect', 'direct/m:v1'])).manifest;
    const chunks = manifest.files.reduce((sum: number, file: { chunks: unknown[] }) => sum + file.chunks.length, 0);
    const before = { ...proxy.stats };
    await ws2.json(['model', 'pull', 'watched', 'm', ws2.path('out'), '--tag', 'v1']);
    await expectSameTree(ws2.path('out'), model);
    const down = proxy.stats.bytesDown - before.bytesDown;
    expect(down).toBeGreaterThan(40 * MiB);
    expect(down).toBeLessThan(40 * MiB * 1.02 + 256 * 1024); // no pack fetched whole for part of it
    expect(proxy.stats.requests - before.requests).toBeLessThan(chunks / 4);
    // verify reads neighbouring chunks of a pack together too.
    const beforeVerify = { ...proxy.stats };
    expect(await ws2.json(['verify', 'watched'])).toMatchObject({ ok: true, chunksChecked: chunks });
    expect(proxy.stats.requests - beforeVerify.requests).toBeLessThan(chunks / 4);
    expect(proxy.stats.bytesDown - beforeVerify.bytesDown).toBeLessThan(40 * MiB * 1.02 + 256 * 1024);

    // A store that fails reads (after retries) makes verify --repair fail; it must not drop the chunks it could not read.
    proxy.set({ answer: { status: 500, code: 'InternalError', message: 'We encountered an internal error.', when: /^GET [^ ]*\/packs\// } });
    const failed = await ws2.run(['verify', 'watched', '--repair']);
    proxy.set({ answer: undefined });
    expectUserError(failed, /failed with 500 InternalError/);
    expect(await ws2.json(['verify', 'direct'])).toMatchObject({ ok: true, problems: [] });
    await ws2.cleanup();
  });

  it('pushes and pulls intact through throttling, resets and stalls', async () => {
    // Every stall and reset lands on the few big requests, so each needs attempts to spare for s3rver answering late.
    const faulty = await createWorkspace({ flaky: s3Repo(`${prefix}/faulty`, proxy.endpoint) }, { ...env, AIM_S3_MAX_ATTEMPTS: '20', AIM_S3_IDLE_TIMEOUT_MS: '2000' });
    const model = faulty.path('model');
    await makeModel(model, { 'a.bin': 3 * MiB, 'b.bin': 1 * MiB, 'c.txt': 1000 });
    proxy.set({ slowDownRate: 0.25, seed: 3, resetAfterBytes: 150_000, resets: 4, stallAfterBytes: 80_000, stalls: 2 });
    await faulty.json(['model', 'push', 'flaky', 'm', model, '--tag', 'v1']);
    proxy.set({ resetAfterBytes: 150_000, resets: 4, stallAfterBytes: 80_000, stalls: 2 });
    await faulty.json(['model', 'pull', 'flaky', 'm', faulty.path('out'), '--tag', 'v1']);
    proxy.set({ slowDownRate: 0, resets: 0, stalls: 0 });
    await expectSameTree(faulty.path('out'), model);
    expect(await faulty.json(['verify', 'flaky', 'm:v1'])).toMatchObject({ ok: true });
    expect(proxy.stats).toMatchObject({ resets: 8, stalls: 4 });
    expect(proxy.stats.slowDowns).toBeGreaterThan(0);
    await faulty.cleanup();
  });

  // s3rver ignores conditional writes, so there two pushes within the same instant can both "win" (docs/s3.md).
  if (server.name !== 's3rver') {
    it('lets one of two racing pushes of a version tag win, and leaves latest naming the winner', async () => {
      const race = await createWorkspace({ team: s3Repo(`${prefix}/race`) }, env);
      await makeModel(race.path('a'), { 'w.bin': 200_000 });
      await makeModel(race.path('b'), { 'w.bin': 200_000 });
      const results = await Promise.all(['a', 'b'].map((dir) => race.run(['model', 'push', 'team', 'm', race.path(dir), '--tag', 'v1', '--json'])));
      const won = results.filter((result) => result.code === 0);
      expect(won).toHaveLength(1);
      expectUserError(results.find((result) => result.code !== 0)!, /tag v1 of team\/m already names other content|tags\/v1 .* was changed by another writer/);
      const winner = won[0]!.json().digest;
      expect((await race.json(['inspect', 'team/m:v1'])).digest).toBe(winner);
      expect((await race.json(['inspect', 'team/m:latest'])).digest).toBe(winner);
      await race.cleanup();
    });
  }

  it('explains a missing bucket and an unreachable endpoint in one line with a hint', async () => {
    const broken = await createWorkspace(
      { nobucket: { ...s3Repo('x'), path: 's3://aim-no-such-bucket/x' }, down: s3Repo('x', `http://127.0.0.1:${await closedPort()}`) },
      { ...env, AIM_S3_MAX_ATTEMPTS: '2' },
    );
    expectUserError(await broken.run(['model', 'list', 'nobucket']), /^aim: error: bucket aim-no-such-bucket does not exist on the S3 endpoint/);
    expectUserError(await broken.run(['model', 'list', 'down']), /connection refused talking to http:\/\/127\.0\.0\.1:\d+ \(after 2 attempts\)$/);
    const noKeys = await broken.run(['model', 'list', 'nobucket'], { env: { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' } });
    expectUserError(noKeys, /no AWS credentials found/);
    await broken.cleanup();
  });
});

describe('credentials stay secret', () => {
  it('never writes or prints the keys, also not under -vv and not in errors', async () => {
    const secret = `aimSecret${randomUUID().replaceAll('-', '')}`;
    const token = `aimToken${randomUUID().replaceAll('-', '')}`;
    const ws = await createWorkspace(undefined, { ...env, AWS_SECRET_ACCESS_KEY: secret, AWS_SESSION_TOKEN: token });
    try {
      const prefix = `secret-${randomUUID()}`;
      const outputs: string[] = [];
      const record = async (args: string[]) => {
        const result = await ws.run(args);
        outputs.push(result.stdout, result.stderr);
        return result;
      };
      await record(['repo', 'create', 'sec', '--type', 's3', '--path', `s3://${server.bucket}/${prefix}`, '--region', 'us-east-1', '--endpoint', server.endpoint, '-vv']);
      await makeModel(ws.path('model'), { 'a.bin': 300_000 });
      expect((await record(['push', 'sec/m:v1', 'model', '-vv'])).code).toBe(0);
      await record(['info', '-vv', '--json']);
      await record(['repo', 'create', 'gone', '--type', 's3', '--path', 's3://no-such-bucket-aim/x', '--region', 'us-east-1', '--endpoint', server.endpoint]);
      const failed = await record(['model', 'list', 'gone', '-vv']);
      expect(failed.code).not.toBe(0);
      expect(failed.stderr).toMatch(/bucket no-such-bucket-aim does not exist/); // with -vv: the stack too, and still no secret
      const { readFile } = await import('node:fs/promises');
      outputs.push(await readFile(ws.config, 'utf8'));
      for (const text of outputs) {
        expect(text).not.toContain(secret);
        expect(text).not.toContain(token);
      }
    } finally {
      await ws.cleanup();
    }
  });
});
