// aim gc on the suite's S3 servers (s3rver, radosgw) through the built CLI: after versions are deleted, gc --yes
// reclaims their chunks and every remaining tag verifies and pulls; a gc killed after each step of its write order
// leaves a repository that verifies, and a rerun finishes the job (on radosgw, the real server).
//
// The starting repository is pushed once per server and copied object by object under a fresh prefix for each
// case: the cases differ only in where gc is killed, and a copy costs less than three pushes through the CLI.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Backend } from '../../src/backends/s3/s3.js';
import { generateModel } from '../../fixtures/generate-model.js';
import { GC_STEPS } from '../../src/settings/test-hooks.js';
import { createWorkspace, expectSameTree, type Workspace } from '../helpers/cli.js';
import { S3RVER_ENV, useS3rverCredentials } from '../helpers/s3-server.js';
import { s3Servers, type S3ServerUnderTest } from '../helpers/s3-servers.js';

useS3rverCredentials();
const MiB = 1024 * 1024;
const env = { ...S3RVER_ENV, AIM_S3_RETRY_BASE_MS: '20', AIM_S3_RETRY_MAX_MS: '200', AIM_S3_MAX_ATTEMPTS: '8' };
const NOW = ['--grace', '0', '--max-unused', '0'];

/** The server the kill points run on: radosgw, or s3rver where no radosgw runs. */
const killsOn = (server: S3ServerUnderTest): boolean => server.name === 'radosgw' || !s3Servers().some((other) => other.name === 'radosgw');

const s3 = (server: S3ServerUnderTest, path: string) => new S3Backend({ type: 's3', path, endpoint: server.endpoint, region: 'us-east-1' });

async function copyPrefix(server: S3ServerUnderTest, from: string, to: string): Promise<void> {
  const [source, target] = [s3(server, from), s3(server, to)];
  try {
    for await (const { key } of source.list('')) await target.put(key, await source.get(key));
  } finally {
    await Promise.all([source.close(), target.close()]);
  }
}

describe.each(s3Servers())('aim gc on $name', (server) => {
  const prefixes: string[] = [];
  const workspaces: Workspace[] = [];
  let template: string;
  let sources: Workspace;

  // m:v0 (only0) pushed and deleted: its pack is wholly dead, gc deletes it. m:v1 (shared + only1) and m:v2 (shared +
  // b), then m:v1 deleted: v1's pack is partly alive, gc repacks it.
  beforeAll(async () => {
    template = `s3://${server.bucket}/gc-template-${randomUUID()}`;
    prefixes.push(template);
    sources = await createWorkspace({ s: { type: 's3', path: template, region: 'us-east-1', endpoint: server.endpoint } }, env);
    const spec = (files: Record<string, number>) => ({ files: Object.entries(files).map(([p, size]) => ({ path: p, size })), seed: 'gc-s3' });
    await generateModel(sources.path('v0'), spec({ 'only0.bin': 1 * MiB }));
    await generateModel(sources.path('v1'), spec({ 'shared.bin': 4 * MiB, 'only1.bin': 2 * MiB }));
    await generateModel(sources.path('v2'), spec({ 'shared.bin': 4 * MiB, 'b.bin': 1 * MiB }));
    for (const version of ['v0', 'v1', 'v2']) await sources.json(['push', `s/m:${version}`, sources.path(version)]);
    for (const version of ['v0', 'v1']) await sources.json(['model', 'delete-version', 's', 'm', '--tag', version]);
  }, 300_000);
  afterAll(async () => {
    for (const path of prefixes) {
      const direct = s3(server, path);
      for await (const item of direct.list('')) await direct.delete(item.key);
      await direct.close();
    }
    for (const ws of [sources, ...workspaces]) await ws?.cleanup();
  });

  /** A fresh prefix holding a copy of the template, and a workspace (its own AIM_HOME) naming it `s`. */
  const repository = async (): Promise<Workspace> => {
    const path = `s3://${server.bucket}/gc-${randomUUID()}`;
    prefixes.push(path);
    await copyPrefix(server, template, path);
    const ws = await createWorkspace({ s: { type: 's3', path, region: 'us-east-1', endpoint: server.endpoint } }, env);
    workspaces.push(ws);
    return ws;
  };
  const expectV2Pulls = async (ws: Workspace, out: string): Promise<void> => {
    const verified = await ws.run(['verify', 's']);
    expect(verified.code, verified.stderr).toBe(0);
    await ws.json(['pull', 's/m:v2', ws.path(out)]);
    await expectSameTree(ws.path(out), sources.path('v2'));
  };

  it('reclaims what only the deleted versions used; a second run finds nothing', async () => {
    const ws = await repository();
    const dry = await ws.json(['gc', 's', ...NOW]);
    expect(dry.dryRun).toBe(true);
    const done = await ws.json(['gc', 's', '--yes', ...NOW]);
    expect(done.packs.deleted, 'v0 pack, wholly dead').toBeGreaterThan(0);
    expect(done.packs.repacked, 'v1 pack, partly alive').toBeGreaterThan(0);
    expect(done.bytes.reclaimed).toBeGreaterThanOrEqual(3 * MiB);
    expect(done.manifests).toBe(2);
    await expectV2Pulls(ws, 'out');
    expect((await ws.json(['gc', 's', '--yes', ...NOW])).bytes.reclaimed).toBe(0);
  }, 300_000);

  // The kill points on the real server (test/e2e/gc.test.ts kills at each on a local folder); on s3rver only when
  // no radosgw runs here, so that they are always checked on one S3 server.
  const killedAfter = async (step: (typeof GC_STEPS)[number]): Promise<void> => {
    const ws = await repository();
    const killed = await ws.run(['gc', 's', '--yes', ...NOW, '--json'], { env: { AIM_TEST_STOP_AFTER: step } });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    // verify reads v2's chunks through its location map and checks each: what a pull would read.
    const verified = await ws.run(['verify', 's']);
    expect(verified.code, verified.stderr).toBe(0);
    const rerun = await ws.run(['gc', 's', '--yes', ...NOW, '--json']);
    expect(rerun.code, rerun.stderr).toBe(0);
    await expectV2Pulls(ws, 'out-rerun');
    expect((await ws.json(['gc', 's', '--yes', ...NOW])).bytes.reclaimed).toBe(0);
  };
  // Registered only there (not skipped elsewhere): the other server runs the reclaim case above.
  if (killsOn(server)) it.each(GC_STEPS)('killed after step "%s": verifies, and a rerun cleans it', killedAfter, 300_000);
});
