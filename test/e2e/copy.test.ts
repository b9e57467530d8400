// aim copy between a local folder and each S3 server of the suite (s3rver, radosgw), both ways, through the built
// CLI: only the chunks the destination lacks move (from --json, against the chunk lists of the manifests), the
// version keeps its digest, a copy killed after its first pack resumes without sending that pack again, a
// destination tag naming other content is refused, and every copied tag pulls back byte for byte.
import { randomUUID } from 'node:crypto';
import { open, readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Backend } from '../../src/backends/s3/s3.js';
import { deriveFile, generateModel, spreadChanges } from '../../fixtures/generate-model.js';
import { createWorkspace, expectSameTree, expectUserError, type Workspace } from '../helpers/cli.js';
import { chunksOf, sumSizes, taggedDigests } from '../helpers/repo-files.js';
import { S3RVER_ENV, useS3rverCredentials } from '../helpers/s3-server.js';
import { s3Servers } from '../helpers/s3-servers.js';

useS3rverCredentials();
const MiB = 1024 * 1024;
const env = { ...S3RVER_ENV, AIM_S3_RETRY_BASE_MS: '20', AIM_S3_RETRY_MAX_MS: '200', AIM_S3_MAX_ATTEMPTS: '8' };

describe.each(s3Servers())('aim copy between a folder and $name', (server) => {
  const path = `s3://${server.bucket}/copy-${randomUUID()}`;
  let ws: Workspace;
  const digestOf = async (tag: string): Promise<string> => (await ws.json(['inspect', `a/m:${tag}`])).digest;

  beforeAll(async () => {
    ws = await createWorkspace(
      (dir) => ({
        a: { type: 'local', path: `${dir}/a`, packs: true },
        b: { type: 'local', path: `${dir}/b`, packs: true },
        s: { type: 's3', path, region: 'us-east-1', endpoint: server.endpoint },
      }),
      env,
    );
    await generateModel(ws.path('v1'), { files: [{ path: 'weights.bin', size: 20 * MiB }, { path: 'config.json', size: 400 }], seed: 'copy' });
    await deriveFile(ws.path('v1', 'weights.bin'), ws.path('v2', 'weights.bin'), spreadChanges(20 * MiB, 0.1, 3), 'copy-v2');
    await generateModel(ws.path('v2'), { files: [{ path: 'config.json', size: 500 }], seed: 'copy-v2' });
    await ws.json(['push', 'a/m:v1', ws.path('v1')]);
    await ws.json(['push', 'a/m:v2', ws.path('v2')]);
  });
  afterAll(async () => {
    const direct = new S3Backend({ type: 's3', path, endpoint: server.endpoint, region: 'us-east-1' });
    for await (const item of direct.list('')) await direct.delete(item.key);
    await direct.close();
    await ws.cleanup();
  });

  it('folder -> bucket: the first version moves whole, the second only the chunks it adds; digests stay', async () => {
    const v1 = await digestOf('v1');
    const v2 = await digestOf('v2');
    const v1Chunks = await chunksOf(ws.path('a'), [v1]);
    const v2Chunks = await chunksOf(ws.path('a'), [v2]);
    const first = await ws.json(['copy', 'a/m:v1', 's']);
    expect(first.bytesMoved).toBe(sumSizes(v1Chunks));
    expect(first.bytesSkipped).toBe(0);
    expect(first.versions[0].digest).toBe(v1);
    const second = await ws.json(['copy', 'a/m:v2', 's']);
    const added = sumSizes(new Map([...v2Chunks].filter(([digest]) => !v1Chunks.has(digest))));
    expect(second.bytesMoved).toBe(added);
    expect(second.bytesSkipped).toBe(sumSizes(v2Chunks) - added);
    expect(added).toBeLessThan(sumSizes(v2Chunks) / 2);
    const again = await ws.json(['copy', 'a/m:v2', 's']);
    expect(again.bytesMoved).toBe(0);
    expect(again.versions[0].tags).toEqual([{ tag: 'v2', outcome: 'unchanged' }]);
    expect((await ws.json(['inspect', 's/m:v2'])).digest).toBe(v2);
    expect((await ws.run(['verify', 's'])).code).toBe(0);
    await ws.json(['pull', 's/m:v2', ws.path('out-s')]);
    await expectSameTree(ws.path('out-s'), ws.path('v2'));
  });

  it('bucket -> folder with --all-tags: every tag arrives, each chunk once', async () => {
    const all = await chunksOf(ws.path('a'), [await digestOf('v1'), await digestOf('v2')]);
    const copied = await ws.json(['copy', 's/m', 'b', '--all-tags']);
    expect(copied.bytesMoved).toBe(sumSizes(all));
    expect(copied.versions.flatMap((v: { tags: Array<{ tag: string }> }) => v.tags.map((t) => t.tag)).sort()).toEqual(['v1', 'v2']);
    expect(await taggedDigests(ws.path('b'))).toEqual(await taggedDigests(ws.path('a')));
    expect((await ws.run(['verify', 'b'])).code).toBe(0);
    await ws.json(['pull', 'b/m:v1', ws.path('out-b')]);
    await expectSameTree(ws.path('out-b'), ws.path('v1'));
  });

  it('a copy killed after its first pack resumes without sending that pack again', async () => {
    await generateModel(ws.path('v3'), { files: [{ path: 'big.bin', size: 24 * MiB }], seed: 'copy-v3' });
    await ws.json(['push', 'a/m:v3', ws.path('v3')]);
    const total = sumSizes(await chunksOf(ws.path('a'), [await digestOf('v3')]));
    const killed = await ws.run(['copy', 'a/m:v3', 's'], { env: { AIM_TEST_STOP_AFTER: 'pack' } });
    expect(killed.signal).toBe('SIGKILL');
    const resumed = await ws.json(['copy', 'a/m:v3', 's']);
    expect(resumed.bytesMoved + resumed.bytesSkipped).toBe(total);
    // Which pack was stored before the kill (the 16 MiB one or the 8 MiB tail, uploaded side by side) is the
    // scheduler's choice: the resume must skip at least one pack's chunks, whichever it was. A copy that did not
    // resume skips nothing.
    expect(resumed.bytesSkipped).toBeGreaterThanOrEqual(4 * MiB);
    await ws.json(['pull', 's/m:v3', ws.path('out-v3')]);
    await expectSameTree(ws.path('out-v3'), ws.path('v3'));
  });

  it('a destination tag naming other content is refused unless --force', async () => {
    expectUserError(await ws.run(['copy', 'a/m:v1', 's/m:v2']), /already names other content/);
    const forced = await ws.json(['copy', 'a/m:v1', 's/m:v2', '--force']);
    expect(forced.versions[0].tags).toEqual([{ tag: 'v2', outcome: 'moved' }]);
    expect(forced.bytesMoved).toBe(0);
  });
});

describe('aim copy checks every chunk as it reads it', () => {
  it('a damaged chunk in the source stops the copy with one plain line, and the destination gets no tag', async () => {
    const ws = await createWorkspace((dir) => ({
      a: { type: 'local', path: `${dir}/a`, packs: true },
      b: { type: 'local', path: `${dir}/b`, packs: true },
    }));
    try {
      await generateModel(ws.path('v1'), { files: [{ path: 'w.bin', size: 3 * MiB }], seed: 'damaged' });
      await ws.json(['push', 'a/m:v1', ws.path('v1')]);
      const [folder] = await readdir(ws.path('a', 'packs'));
      const [pack] = await readdir(ws.path('a', 'packs', folder!));
      const file = await open(ws.path('a', 'packs', folder!, pack!), 'r+');
      await file.write(Buffer.from('X'), 0, 1, 100); // inside the first chunk, which starts the pack
      await file.close();
      const failed = await ws.run(['copy', 'a/m:v1', 'b']);
      expectUserError(failed, /corrupt in repository a/);
      expect(failed.code).toBe(4);
      expect((await ws.run(['inspect', 'b/m:v1'])).code).toBe(3);
    } finally {
      await ws.cleanup();
    }
  });
});
