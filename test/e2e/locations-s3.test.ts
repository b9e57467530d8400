// Location maps on S3-compatible servers, through the built CLI: `aim repo upgrade` maps a version pushed without
// one, after which a pull and a verify of it work with every index object deleted and AIM_HOME's copies gone.
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { S3Backend } from '../../src/backends/s3/s3.js';
import { createWorkspace, expectSameTree, type Workspace } from '../helpers/cli.js';
import { S3RVER_ENV, useS3rverCredentials } from '../helpers/s3-server.js';
import { s3Servers } from '../helpers/s3-servers.js';

useS3rverCredentials();
const env = { ...S3RVER_ENV, AIM_S3_RETRY_BASE_MS: '20', AIM_S3_RETRY_MAX_MS: '200', AIM_S3_MAX_ATTEMPTS: '8', AIM_S3_IDLE_TIMEOUT_MS: '10000' };

describe.each(s3Servers())('location maps on $name', (server) => {
  const prefix = `locations-${randomUUID()}`;
  let ws: Workspace;
  let direct: S3Backend;
  const deleteUnder = async (under: string) => {
    for await (const { key } of direct.list(under)) await direct.delete(key);
  };
  beforeAll(async () => {
    ws = await createWorkspace({ r: { type: 's3', path: `s3://${server.bucket}/${prefix}`, region: 'us-east-1', endpoint: server.endpoint } }, env);
    direct = new S3Backend({ type: 's3', path: `s3://${server.bucket}/${prefix}`, endpoint: server.endpoint, region: 'us-east-1' });
  });
  afterAll(async () => {
    await deleteUnder('');
    await direct.close();
    await ws.cleanup();
  });

  it('an upgraded version pulls and verifies with no index object left', async () => {
    await generateModel(ws.path('src'), { seed: 's3-map', files: [{ path: 'w.bin', size: 900 * 1024 }, { path: 'c.json', size: 200 }] });
    const { digest } = await ws.json(['push', 'r/m:v1', 'src']);
    await deleteUnder('locations/'); // as an older aim left it
    const upgraded = await ws.json(['repo', 'upgrade', 'r']);
    expect(upgraded).toMatchObject({ versionsMapped: 1, failed: [] });
    expect(await direct.stat(`locations/${digest.slice(7, 9)}/${digest.slice(7)}.json`)).toBeDefined();

    await deleteUnder('index/');
    await rm(ws.home, { recursive: true, force: true });
    const pull = await ws.run(['pull', 'r/m:v1', 'out']);
    expect(pull.code, pull.stderr).toBe(0);
    expect(pull.stderr).not.toMatch(/index/);
    await expectSameTree(ws.path('out'), ws.path('src'));
    expect((await ws.json(['verify', 'r'])).ok).toBe(true);
  });
});
