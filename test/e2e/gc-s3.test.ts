// aim gc on the suite's S3 servers (s3rver, radosgw) through the built CLI: after a version is deleted, gc --yes
// reclaims its chunks and every remaining tag verifies and pulls; a gc killed after each step of its write order
// leaves a repository that verifies, and a rerun finishes the job.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { S3Backend } from '../../src/backends/s3/s3.js';
import { generateModel } from '../../fixtures/generate-model.js';
import { GC_STEPS } from '../../src/settings/test-hooks.js';
import { createWorkspace, expectSameTree, type Workspace } from '../helpers/cli.js';
import { S3RVER_ENV, useS3rverCredentials } from '../helpers/s3-server.js';
import { s3Servers } from '../helpers/s3-servers.js';

useS3rverCredentials();
const MiB = 1024 * 1024;
const env = { ...S3RVER_ENV, AIM_S3_RETRY_BASE_MS: '20', AIM_S3_RETRY_MAX_MS: '200', AIM_S3_MAX_ATTEMPTS: '8' };
const NOW = ['--grace', '0', '--max-unused', '0', '--json'];

describe.each(s3Servers())('aim gc on $name', (server) => {
  const workspaces: Array<{ ws: Workspace; path: string }> = [];
  afterAll(async () => {
    for (const { ws, path } of workspaces) {
      const direct = new S3Backend({ type: 's3', path, endpoint: server.endpoint, region: 'us-east-1' });
      for await (const item of direct.list('')) await direct.delete(item.key);
      await direct.close();
      await ws.cleanup();
    }
  });

  /** A fresh prefix holding m:v1 (shared + only1), m:v2 (shared + b), then m:v1 deleted. */
  const repository = async (): Promise<Workspace> => {
    const path = `s3://${server.bucket}/gc-${randomUUID()}`;
    const ws = await createWorkspace({ s: { type: 's3', path, region: 'us-east-1', endpoint: server.endpoint } }, env);
    workspaces.push({ ws, path });
    const spec = (files: Record<string, number>) => ({ files: Object.entries(files).map(([p, size]) => ({ path: p, size })), seed: 'gc-s3' });
    await generateModel(ws.path('v1'), spec({ 'shared.bin': 18 * MiB, 'only1.bin': 3 * MiB }));
    await generateModel(ws.path('v2'), spec({ 'shared.bin': 18 * MiB, 'b.bin': 1 * MiB }));
    await ws.json(['push', 's/m:v1', ws.path('v1')]);
    await ws.json(['push', 's/m:v2', ws.path('v2')]);
    await ws.json(['model', 'delete-version', 's', 'm', '--tag', 'v1']);
    return ws;
  };
  const expectV2Pulls = async (ws: Workspace, out: string): Promise<void> => {
    const verified = await ws.run(['verify', 's']);
    expect(verified.code, verified.stderr).toBe(0);
    await ws.json(['pull', 's/m:v2', ws.path(out)]);
    await expectSameTree(ws.path(out), ws.path('v2'));
  };

  it('reclaims what only the deleted version used; a second run finds nothing', async () => {
    const ws = await repository();
    const dry = await ws.json(['gc', 's', ...NOW.slice(0, -1)]);
    expect(dry.dryRun).toBe(true);
    const done = await ws.json(['gc', 's', '--yes', ...NOW.slice(0, -1)]);
    expect(done.bytes.reclaimed).toBeGreaterThanOrEqual(3 * MiB);
    expect(done.manifests).toBe(1);
    await expectV2Pulls(ws, 'out');
    expect((await ws.json(['gc', 's', '--yes', ...NOW.slice(0, -1)])).bytes.reclaimed).toBe(0);
  }, 300_000);

  it.each(GC_STEPS)('killed after step "%s": verifies, and a rerun cleans it', async (step) => {
    const ws = await repository();
    const killed = await ws.run(['gc', 's', '--yes', ...NOW], { env: { AIM_TEST_STOP_AFTER: step } });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    await expectV2Pulls(ws, 'out-killed');
    const rerun = await ws.run(['gc', 's', '--yes', ...NOW]);
    expect(rerun.code, rerun.stderr).toBe(0);
    await expectV2Pulls(ws, 'out-rerun');
    expect((await ws.json(['gc', 's', '--yes', ...NOW.slice(0, -1)])).bytes.reclaimed).toBe(0);
  }, 300_000);
});
