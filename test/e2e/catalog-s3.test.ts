// The catalog on S3 repositories (the suite's s3rver and Ceph radosgw), through the built CLI: pushes of different
// models at once all end up in the catalog, a delete leaves it, and reindex rebuilds index.json once it is lost.
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Backend } from '../../src/backends/s3/s3.js';
import { createWorkspace, type Workspace } from '../helpers/cli.js';
import { S3RVER_ENV, useS3rverCredentials } from '../helpers/s3-server.js';
import { s3Servers } from '../helpers/s3-servers.js';

useS3rverCredentials();
const env = { ...S3RVER_ENV, AIM_S3_RETRY_BASE_MS: '20', AIM_S3_RETRY_MAX_MS: '200', AIM_S3_MAX_ATTEMPTS: '8', AIM_S3_IDLE_TIMEOUT_MS: '10000' };
const MODELS = ['m0', 'm1', 'm2', 'm3'];

describe.each(s3Servers())('catalog on $name (e2e)', (server) => {
  const prefix = `catalog-${randomUUID()}`;
  let ws: Workspace;
  let direct: S3Backend;
  const indexModels = async (): Promise<string[]> => Object.keys(JSON.parse((await direct.get('index.json')).toString('utf8')).models).sort();
  const listed = async (): Promise<string[]> => (await ws.json(['list', '--repo', 's3'])).models.map((m: { model: string }) => m.model);

  beforeAll(async () => {
    ws = await createWorkspace({ s3: { type: 's3', path: `s3://${server.bucket}/${prefix}`, region: 'us-east-1', endpoint: server.endpoint } }, env);
    direct = new S3Backend({ type: 's3', path: `s3://${server.bucket}/${prefix}`, endpoint: server.endpoint, region: 'us-east-1' });
    for (const model of MODELS) {
      await mkdir(ws.path('src', model), { recursive: true });
      await writeFile(ws.path('src', model, 'w.bin'), `weights of ${model}`);
    }
    // aim-repo.json first, so the pushes below race on the catalog and not on creating the repository.
    await ws.json(['push', 's3/seed:v1', ws.path('src', 'm0')]);
  });
  afterAll(async () => {
    for await (const item of direct.list('')) await direct.delete(item.key);
    await direct.close();
    await ws.cleanup();
  });

  it('keeps every model of pushes run at once, and drops a deleted one', async () => {
    const runs = MODELS.map((model) => ws.start(['push', `s3/${model}:v1`, ws.path('src', model), '--description', `model ${model}`, '-q']).result);
    for (const result of await Promise.all(runs)) expect(result.code, result.stderr).toBe(0);
    expect(await listed()).toEqual(['seed', ...MODELS].sort());
    if (server.name === 'radosgw') {
      // radosgw enforces If-Match, so the roll-up itself lost nothing (s3rver ignores conditions: the reader's
      // check against catalog/ is what keeps its models, asserted above).
      expect(await indexModels()).toEqual(['seed', ...MODELS].sort());
    }
    await ws.json(['model', 'delete', 's3', 'm2']);
    expect(await listed()).toEqual(['m0', 'm1', 'm3', 'seed']);
  });

  it('keeps every tag of concurrent pushes of one model (where the server enforces conditional writes)', async () => {
    const tags = ['t0', 't1', 't2'];
    const runs = tags.map((tag, i) => ws.start(['push', `s3/same:${tag}`, ws.path('src', MODELS[i]!), '-q']).result);
    for (const result of await Promise.all(runs)) expect(result.code, result.stderr).toBe(0);
    const listed = (await ws.json(['list', '--repo', 's3'])).models.find((m: { model: string }) => m.model === 'same');
    if (server.name === 'radosgw') expect(Object.keys(listed.tags).sort()).toEqual(['latest', ...tags]);
    else expect(listed).toBeDefined();
    await ws.json(['model', 'delete', 's3', 'same']);
  });

  it('rebuilds index.json from the tags once it is lost', async () => {
    await direct.delete('index.json');
    await direct.delete('catalog/m1.json');
    const rebuilt = await ws.json(['repo', 'reindex', 's3']);
    expect(rebuilt.models).toBe(4);
    expect(await indexModels()).toEqual(['m0', 'm1', 'm3', 'seed']);
    expect(JSON.parse((await direct.get('catalog/m1.json')).toString('utf8')).description).toBe('model m1');
  });
});
