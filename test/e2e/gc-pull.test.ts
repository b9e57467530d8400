// A pull in flight while gc repacks the packs it reads, through the built CLI, on a local folder and on radosgw: the
// pull is paused (SIGSTOP) once its first file is under way, `aim gc --yes --grace 0 --max-unused 0` moves the
// pulled version's chunks into new packs and deletes the old ones, and the pull, resumed, finds its chunks gone,
// reads where they are now and finishes with the right bytes.
import { readdir } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Backend } from '../../src/backends/s3/s3.js';
import { deriveFile, generateModel, spreadChanges } from '../../fixtures/generate-model.js';
import { createWorkspace, expectSameTree, type RepoEntry, type Workspace } from '../helpers/cli.js';
import { S3RVER_ENV, useS3rverCredentials } from '../helpers/s3-server.js';
import { s3Servers } from '../helpers/s3-servers.js';

useS3rverCredentials();
const MiB = 1024 * 1024;
/** Files pulled one after the other: when the first is under way, the others still need the packs gc removes. */
const FILES = Array.from({ length: 6 }, (_, i) => `weights-${i}.bin`);
const FILE_SIZE = 4 * MiB;
const env = { ...S3RVER_ENV, AIM_S3_RETRY_BASE_MS: '20', AIM_S3_RETRY_MAX_MS: '200', AIM_S3_MAX_ATTEMPTS: '8' };

interface Place {
  name: string;
  entry: (dir: string) => RepoEntry;
  cleanup?: () => Promise<void>;
}

function places(): Place[] {
  const local: Place = { name: 'local folder', entry: (dir) => ({ type: 'local', path: `${dir}/repo`, packs: true }) };
  const radosgw = s3Servers().filter((server) => server.name === 'radosgw');
  return [
    local,
    ...radosgw.map((server): Place => {
      const path = `s3://${server.bucket}/gc-pull-${randomUUID()}`;
      return {
        name: server.name,
        entry: () => ({ type: 's3', path, region: 'us-east-1', endpoint: server.endpoint }),
        cleanup: async () => {
          const direct = new S3Backend({ type: 's3', path, endpoint: server.endpoint, region: 'us-east-1' });
          for await (const item of direct.list('')) await direct.delete(item.key);
          await direct.close();
        },
      };
    }),
  ];
}

/** True once the pull has created a partial file in DEST/.aim/partial: its first file is under way. */
const partialAppeared = (dest: string) => async (): Promise<boolean> => {
  const names = await readdir(`${dest}/.aim/partial`).catch(() => []);
  return names.length > 0;
};

describe.each(places())('a pull while gc repacks its packs, on $name', (place) => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: place.entry(dir) }), env);
    // m:a, then m:b sharing most of its chunks; m:a deleted, so a's packs are partly alive and gc repacks them.
    await generateModel(ws.path('a'), { files: FILES.map((path) => ({ path, size: FILE_SIZE })), seed: 'gc-pull' });
    for (const file of FILES) await deriveFile(ws.path('a', file), ws.path('b', file), spreadChanges(FILE_SIZE, 0.05, 2), `b-${file}`);
    await ws.json(['push', 'r/m:a', ws.path('a')]);
    await ws.json(['push', 'r/m:b', ws.path('b')]);
    await ws.json(['model', 'delete-version', 'r', 'm', '--tag', 'a']);
  });
  afterAll(async () => {
    await place.cleanup?.();
    await ws.cleanup();
  });

  it('paused after its first file starts, resumed after gc: reads where the chunks are now and finishes', async () => {
    const dest = ws.path('out');
    const pull = ws.start(['pull', 'r/m:b', dest, '--concurrency', '1']);
    let finished = false;
    void pull.result.then(() => (finished = true));
    const started = partialAppeared(dest);
    while (!finished && !(await started())) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(finished, pull.stderrSoFar()).toBe(false);
    pull.child.kill('SIGSTOP');
    let collected;
    try {
      collected = await ws.json(['gc', 'r', '--yes', '--grace', '0', '--max-unused', '0']);
    } finally {
      pull.child.kill('SIGCONT');
    }
    const pulled = await pull.result;
    expect(collected.packs.repacked, 'gc moved the chunks b shares with a').toBeGreaterThan(0);
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(pulled.stderr).toMatch(/chunks of blake3:[0-9a-f]{64} were not where they were \(`aim gc` repacked them\): reading where they are now/);
    await expectSameTree(dest, ws.path('b'));
    const verified = await ws.run(['verify', 'r']);
    expect(verified.code, verified.stderr).toBe(0);
  }, 300_000);
});
