// Bundles on S3 repositories (the suite's s3rver and Ceph radosgw), through the built CLI: a bundle is written with
// the tag compare-and-swap of a push, listed in the catalog, pulled and verified member by member, and gc keeps
// the members after their own tags are deleted.
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Backend } from '../../src/backends/s3/s3.js';
import { createWorkspace, expectSameTree, expectUserError, type Workspace } from '../helpers/cli.js';
import { S3RVER_ENV, useS3rverCredentials } from '../helpers/s3-server.js';
import { s3Servers } from '../helpers/s3-servers.js';

useS3rverCredentials();
const env = { ...S3RVER_ENV, AIM_S3_RETRY_BASE_MS: '20', AIM_S3_RETRY_MAX_MS: '200', AIM_S3_MAX_ATTEMPTS: '8', AIM_S3_IDLE_TIMEOUT_MS: '10000' };

describe.each(s3Servers())('bundles on $name (e2e)', (server) => {
  const prefix = `bundle-${randomUUID()}`;
  let ws: Workspace;
  let direct: S3Backend;

  beforeAll(async () => {
    ws = await createWorkspace({ s3: { type: 's3', path: `s3://${server.bucket}/${prefix}`, region: 'us-east-1', endpoint: server.endpoint, packs: true } }, env);
    direct = new S3Backend({ type: 's3', path: `s3://${server.bucket}/${prefix}`, endpoint: server.endpoint, region: 'us-east-1' });
    for (const [model, text] of [['chat', 'chat weights '], ['embed', 'embedder weights ']] as const) {
      await mkdir(ws.path('src', model), { recursive: true });
      await writeFile(ws.path('src', model, 'w.bin'), text.repeat(5000));
      await ws.json(['push', `s3/${model}:v1`, ws.path('src', model)]);
    }
  });
  afterAll(async () => {
    for await (const item of direct.list('')) await direct.delete(item.key);
    await direct.close();
    await ws.cleanup();
  });

  it('bundles, lists, pulls and verifies; the tag is immutable without --force', async () => {
    const made = await ws.json(['bundle', 's3/kit:v1', 'chat:v1', 'embed:v1']);
    expect(made.outcome).toBe('created');
    expect(JSON.parse((await direct.get('bundles/kit/tags/v1')).toString('utf8')).digest).toBe(made.digest);
    expectUserError(await ws.run(['bundle', 's3/kit:v1', 'chat:v1']), /already names other content/);
    const entry = (await ws.json(['list', '--repo', 's3'])).models.find((m: { model: string }) => m.model === 'kit');
    expect(entry).toMatchObject({ kind: 'bundle', members: [{ model: 'chat' }, { model: 'embed' }] });
    const out = ws.path('out');
    await ws.json(['pull', 's3/kit:v1', out]);
    await expectSameTree(join(out, 'chat'), ws.path('src', 'chat'));
    await expectSameTree(join(out, 'embed'), ws.path('src', 'embed'));
    expect(await ws.json(['verify', 's3', 'kit:v1'])).toMatchObject({ kind: 'bundle', ok: true, versions: 2 });
  });

  it('gc keeps the members of a bundle whose models lost their tags', async () => {
    await ws.json(['model', 'delete', 's3', 'chat']);
    await ws.json(['model', 'delete', 's3', 'embed']);
    await ws.json(['gc', 's3', '--yes', '--grace', '0']);
    const out = ws.path('out-after-gc');
    await ws.json(['pull', 's3/kit:v1', out]);
    await expectSameTree(join(out, 'chat'), ws.path('src', 'chat'));
    expect((await ws.json(['verify', 's3', 'kit:v1'])).ok).toBe(true);
  });
});
