// Export and import with an S3 repository on each side (the suite's s3rver and Ceph radosgw): a version pushed to a
// folder is exported, imported into a bucket, exported from there to the same bytes, and pulls back identical.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Backend } from '../../src/backends/s3/s3.js';
import { generateModel } from '../../fixtures/generate-model.js';
import { writeTinyGguf } from '../../fixtures/tiny-gguf.js';
import { createWorkspace, expectSameTree, sha256File, type Workspace } from '../helpers/cli.js';
import { S3RVER_ENV, useS3rverCredentials } from '../helpers/s3-server.js';
import { s3Servers } from '../helpers/s3-servers.js';

useS3rverCredentials();

describe.each(s3Servers())('aim export and import with a repository on $name', (server) => {
  const prefix = `oci-${randomUUID()}`;
  let ws: Workspace;
  let direct: S3Backend;

  beforeAll(async () => {
    ws = await createWorkspace(
      (dir) => ({
        local: { type: 'local', path: join(dir, 'repo') },
        bucket: { type: 's3', path: `s3://${server.bucket}/${prefix}`, region: 'us-east-1', endpoint: server.endpoint },
      }),
      S3RVER_ENV,
    );
    direct = new S3Backend({ type: 's3', path: `s3://${server.bucket}/${prefix}`, endpoint: server.endpoint, region: 'us-east-1' });
  });
  afterAll(async () => {
    for await (const item of direct.list('')) await direct.delete(item.key);
    await direct.close();
    await ws?.cleanup();
  });

  it('moves a version from a folder into a bucket and back through OCI layouts, byte for byte', async () => {
    await writeTinyGguf(ws.path('model', 'tiny-llama-q8_0.gguf'), { quant: 'q8_0', seed: 11 });
    await generateModel(ws.path('model'), { files: [{ path: 'extra/weights.bin', size: 9 * 1024 * 1024 }], seed: 'oci-s3' });
    const pushed = await ws.json(['push', 'local/tiny:v1', ws.path('model')]);
    const fromFolder = await ws.json(['export', 'local/tiny:v1', '-o', 'from-folder.tar']);
    const imported = await ws.json(['import', 'from-folder.tar', 'bucket/tiny:v1']);
    expect(imported).toMatchObject({ repo: 'bucket', digest: pushed.digest, sameVersion: true, bytesTransferred: pushed.totalBytes });
    const fromBucket = await ws.json(['export', 'bucket/tiny:v1', '-o', 'from-bucket.tar']);
    expect(fromBucket.manifestDigest).toBe(fromFolder.manifestDigest);
    expect(await sha256File(ws.path('from-bucket.tar'))).toBe(await sha256File(ws.path('from-folder.tar')));
    await ws.json(['pull', 'bucket/tiny:v1', 'pulled']);
    await expectSameTree(ws.path('pulled'), ws.path('model'));
  });
});
