// aim gc racing pushes, through the built CLI, on a local folder, s3rver and radosgw: each round deletes the oldest
// version, then runs a push of a new version that shares most chunks with the one before (so it dedupes against
// packs gc is repacking) and `aim gc --yes --grace 0 --max-unused 0` at the same time. After every round every tag
// verifies and the new version pulls back byte for byte: the push either found every chunk it relied on or noticed
// the gc (its record) and stored what was removed again.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backends/backend.js';
import { LocalBackend } from '../../src/backends/local.js';
import { S3Backend } from '../../src/backends/s3/s3.js';
import { deriveFile, generateModel, spreadChanges } from '../../fixtures/generate-model.js';
import { createWorkspace, expectSameTree, type RepoEntry, type Workspace } from '../helpers/cli.js';
import { S3RVER_ENV, useS3rverCredentials } from '../helpers/s3-server.js';
import { s3Servers } from '../helpers/s3-servers.js';

useS3rverCredentials();
const MiB = 1024 * 1024;
/** The racing versions: one pack each, mostly shared with the version before. */
const SIZE = 8 * MiB;
/** The paused push's versions: big enough that the push is still running when its first pack is under way. */
const PAUSED_SIZE = 12 * MiB;
const env = { ...S3RVER_ENV, AIM_S3_RETRY_BASE_MS: '20', AIM_S3_RETRY_MAX_MS: '200', AIM_S3_MAX_ATTEMPTS: '8' };

interface Place {
  name: string;
  /** Rounds of the race: most on a local folder, where one is cheap; fewer on the S3 servers. */
  rounds: number;
  entry: (dir: string) => RepoEntry;
  /** The repository's store, read directly (to see a push's pending record appear). */
  backend: (dir: string) => Backend;
  cleanup?: () => Promise<void>;
}

function places(): Place[] {
  const local: Place = {
    name: 'local folder',
    rounds: 6,
    entry: (dir) => ({ type: 'local', path: `${dir}/repo`, packs: true }),
    backend: (dir) => new LocalBackend(`${dir}/repo`),
  };
  return [
    local,
    ...s3Servers().map((server): Place => {
      const path = `s3://${server.bucket}/gc-race-${randomUUID()}`;
      return {
        name: server.name,
        rounds: 3,
        entry: () => ({ type: 's3', path, region: 'us-east-1', endpoint: server.endpoint }),
        backend: () => new S3Backend({ type: 's3', path, endpoint: server.endpoint, region: 'us-east-1' }),
        cleanup: async () => {
          const direct = new S3Backend({ type: 's3', path, endpoint: server.endpoint, region: 'us-east-1' });
          for await (const item of direct.list('')) await direct.delete(item.key);
          await direct.close();
        },
      };
    }),
  ];
}

describe.each(places())('aim gc racing pushes on $name', (place) => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: place.entry(dir) }), env);
    await generateModel(ws.path('v1'), { files: [{ path: 'weights.bin', size: SIZE }, { path: 'config.json', size: 300 }], seed: 'race' });
    await ws.json(['push', 'r/m:v1', ws.path('v1')]);
  });
  afterAll(async () => {
    await place.cleanup?.();
    await ws.cleanup();
  });

  it(`${place.rounds} rounds of push and gc at once: every tag verifies and pulls after each`, async () => {
    let retried = 0;
    for (let round = 2; round <= place.rounds + 1; round++) {
      const dir = ws.path(`v${round}`);
      await deriveFile(ws.path(`v${round - 1}`, 'weights.bin'), ws.path(`v${round}`, 'weights.bin'), spreadChanges(SIZE, 0.05, 4), `race-${round}`);
      await generateModel(dir, { files: [{ path: 'config.json', size: 300 }], seed: `race-${round}` });
      if (round > 2) await ws.json(['model', 'delete-version', 'r', 'm', '--tag', `v${round - 2}`]);
      const pushArgs = ['push', `r/m:v${round}`, dir, '--json'];
      const gcArgs = ['gc', 'r', '--yes', '--grace', '0', '--max-unused', '0', '--json'];
      // Either one is started first, alternately: which of them reaches the store first is up to the scheduler.
      const [first, second] = round % 2 === 0 ? [pushArgs, gcArgs] : [gcArgs, pushArgs];
      const runs = [ws.start(first), ws.start(second)];
      const [a, b] = await Promise.all(runs.map((run) => run.result));
      for (const result of [a!, b!]) expect(result.code, `${result.stderr}`).toBe(0);
      const pushed = round % 2 === 0 ? a! : b!;
      if (pushed.stderr.includes('pushing again')) retried++;
      const verified = await ws.run(['verify', 'r']);
      expect(verified.code, verified.stderr).toBe(0);
      await ws.json(['pull', `r/m:v${round}`, ws.path('out', `v${round}`)]);
      await expectSameTree(ws.path('out', `v${round}`), dir);
      await ws.json(['pull', `r/m:v${round - 1}`, ws.path('out', `v${round - 1}-again`)]);
      await expectSameTree(ws.path('out', `v${round - 1}-again`), ws.path(`v${round - 1}`));
    }
    // How often the push lost the race shows only in the log: the interleaving is the scheduler's.
    console.log(`gc race on ${place.name}: ${retried} of ${place.rounds} pushes stored again what a gc removed`);
  }, 600_000);

  it('a push paused (SIGSTOP) after its first pack while gc repacks the packs it deduped against stores those chunks again', async () => {
    // p:a, then p:b sharing most of it, then p:a deleted: its packs are partly alive and the gc repacks them.
    await generateModel(ws.path('pa'), { files: [{ path: 'weights.bin', size: PAUSED_SIZE }], seed: 'paused-base' });
    await ws.json(['push', 'r/p:a', ws.path('pa')]);
    await deriveFile(ws.path('pa', 'weights.bin'), ws.path('pb', 'weights.bin'), spreadChanges(PAUSED_SIZE, 0.05, 4), 'pb');
    await ws.json(['push', 'r/p:b', ws.path('pb')]);
    await ws.json(['model', 'delete-version', 'r', 'p', '--tag', 'a']);
    const dir = ws.path('paused');
    await deriveFile(ws.path('pb', 'weights.bin'), ws.path('paused', 'weights.bin'), spreadChanges(PAUSED_SIZE, 0.05, 4), 'paused');
    const store = place.backend(ws.dir);
    const pending = async (): Promise<boolean> => {
      for await (const _ of store.list('pending/')) return true;
      return false;
    };
    const push = ws.start(['push', 'r/p:c', dir]);
    let finished = false;
    void push.result.then(() => (finished = true));
    // An event, not a delay: the push has read the maps it dedupes with and stored its first pack.
    while (!finished && !(await pending())) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(finished, push.stderrSoFar()).toBe(false);
    push.child.kill('SIGSTOP');
    const collected = await ws.json(['gc', 'r', '--yes', '--grace', '0', '--max-unused', '0']);
    push.child.kill('SIGCONT');
    const pushed = await push.result;
    await store.close?.();
    expect(collected.packs.repacked + collected.packs.deleted).toBeGreaterThan(0);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stderr).toMatch(/chunks were removed from r .* while version blake3:[0-9a-f]{64} was written: pushing again/);
    const verified = await ws.run(['verify', 'r']);
    expect(verified.code, verified.stderr).toBe(0);
    await ws.json(['pull', 'r/p:c', ws.path('out', 'paused')]);
    await expectSameTree(ws.path('out', 'paused'), dir);
  }, 300_000);
});
