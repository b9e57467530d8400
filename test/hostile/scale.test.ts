// The keys of issue 21's push as an attacker, a damaged disk or a teammate leaves them, through the real CLI under
// the harness's time and memory bound: a pending push's planted pack and key objects leading to the largest shards a
// push reads cost it a bounded amount of memory, and the push still tags a version that pulls byte for byte; a push
// or an upgrade while a repair is under way writes no location map that could outlive the repair's deletion of them.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { digestOf } from '../../src/core/format/digest.js';
import { createWorkspace, expectSameTree, type Workspace } from '../helpers/cli.js';
import { expectRefused, expectUnchanged, runBounded, snapshot } from './harness.js';

const MiB = 1024 * 1024;
const workspaces: Workspace[] = [];
afterEach(async () => Promise.all(workspaces.splice(0).map((ws) => ws.cleanup())));

async function repositoryWithOneVersion(): Promise<Workspace> {
  const ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
  workspaces.push(ws);
  await generateModel(ws.path('src-a'), { seed: 'scale-hostile-a', files: [{ path: 'a.bin', size: 300 * 1024 }] });
  await generateModel(ws.path('src-b'), { seed: 'scale-hostile-b', files: [{ path: 'b.bin', size: 300 * 1024 }] });
  await ws.json(['push', 'r/a:v1', 'src-a']);
  return ws;
}

/** A pending record naming push `pushId`, as a killed push leaves it. */
async function plantPendingRecord(ws: Workspace, pushId: string): Promise<void> {
  await mkdir(ws.path('repo', 'pending'), { recursive: true });
  await writeFile(ws.path('repo', 'pending', pushId), JSON.stringify({ startedAt: new Date().toISOString() }));
}

/** A pack of `pushId` with `chunkBytes` of chunk area (sparse: nothing on the disk) and a footer listing `entries`. */
async function plantSparsePack(ws: Workspace, pushId: string, chunkBytes: number, entries: Array<[string, number, number]>): Promise<void> {
  const folder = ws.path('repo', 'packs', pushId.slice(0, 2));
  await mkdir(folder, { recursive: true });
  const footer = Buffer.from(JSON.stringify({ chunks: entries }));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(footer.length);
  const file = await open(join(folder, `${pushId}${'0'.repeat(16)}`), 'wx');
  try {
    await file.write(Buffer.concat([footer, length]), 0, footer.length + 4, chunkBytes);
  } finally {
    await file.close();
  }
}

describe('hostile pending pushes', () => {
  it('a planted sparse pack of nearly 1 GiB with a footer pointing at its end is checked without holding it whole', async () => {
    const ws = await repositoryWithOneVersion();
    const pushId = '5'.repeat(16);
    await plantPendingRecord(ws, pushId);
    const area = 1000 * MiB;
    // Each entry is a chunk of the largest size a chunk may have, at the end of the area: all are zeros, none matches.
    await plantSparsePack(ws, pushId, area, [[`blake3:${'ab'.repeat(32)}`, area - 64 * MiB, 64 * MiB]]);

    const push = await runBounded(ws, ['push', 'r/b:v1', 'src-b'], { timeoutMs: 60_000 });
    expect(push.code, push.stderr).toBe(0);
    const pull = await runBounded(ws, ['pull', 'r/b:v1', 'dest']);
    expect(pull.code, pull.stderr).toBe(0);
    await expectSameTree(ws.path('dest'), ws.path('src-b'));
  });
});

describe('hostile key objects', () => {
  it('32 key objects each leading to a shard as big as a push reads (32,768 entries, or the most bytes) keep the push within its memory bound', async () => {
    const ws = await repositoryWithOneVersion();
    // A model whose files are each one key chunk (digest hex "00..."), found by trying contents.
    const keyChunks: string[] = [];
    await mkdir(ws.path('src-keys'));
    for (let n = 0; keyChunks.length < 32; n++) {
      const bytes = Buffer.from(`key chunk candidate ${n}\n`);
      const digest = await digestOf(bytes);
      if (!digest.startsWith('blake3:00')) continue;
      keyChunks.push(digest);
      await writeFile(ws.path('src-keys', `k${keyChunks.length}.txt`), bytes);
    }
    // Each key object names its own shard of the most entries a push still learns; every other one is also just
    // under the size a push still reads, packed with more, shorter entries.
    const maxShardBytes = 32_768 * 128 + 64 * 1024;
    for (const [i, digest] of keyChunks.entries()) {
      const shard = randomBytes(16).toString('hex');
      const hex = digest.slice(7);
      await mkdir(ws.path('repo', 'keys', hex.slice(2, 4)), { recursive: true });
      await writeFile(ws.path('repo', 'keys', hex.slice(2, 4), hex), `${shard}\n`);
      const entries: string[] = [];
      let bytes = 64;
      for (let e = 0; bytes < maxShardBytes - 200 && (i % 2 === 1 || e < 32_768); e++) {
        const entry = `["blake3:${randomBytes(32).toString('hex')}",${e},1]`;
        entries.push(entry);
        bytes += entry.length + 1;
      }
      await mkdir(ws.path('repo', 'index'), { recursive: true });
      await writeFile(ws.path('repo', 'index', `${shard}.json`), `{"format":1,"packs":{"${i.toString(16).padStart(32, 'e')}":[${entries.join(',')}]}}\n`);
    }

    const push = await runBounded(ws, ['push', 'r/keys:v1', 'src-keys'], { timeoutMs: 120_000 });
    expect(push.code, push.stderr).toBe(0);
    const pull = await runBounded(ws, ['pull', 'r/keys:v1', 'dest']);
    expect(pull.code, pull.stderr).toBe(0);
    await expectSameTree(ws.path('dest'), ws.path('src-keys'));
  }, 180_000);
});

describe('a push while a repair is under way', () => {
  const mapsOf = async (ws: Workspace): Promise<string[]> => {
    const folders = await readdir(ws.path('repo', 'locations')).catch(() => [] as string[]);
    return (await Promise.all(folders.map(async (f) => (await readdir(ws.path('repo', 'locations', f))).map((name) => name.slice(0, 64))))).flat();
  };

  it('writes no location map while a repair that began is not over (it may already have deleted the maps naming what it drops)', async () => {
    const ws = await repositoryWithOneVersion();
    const started = (ago: number): string => `started ${new Date(Date.now() - ago).toISOString()} 3b0c3c1e-0000-4000-8000-000000000000\n`;
    await writeFile(ws.path('repo', 'removals'), started(0));
    const push = await runBounded(ws, ['push', 'r/b:v1', 'src-b']);
    expect(push.code, push.stderr).toBe(0);
    const digest = /blake3:([0-9a-f]{64})/.exec(push.stdout + push.stderr)![1]!;
    expect(await mapsOf(ws)).not.toContain(digest);
    expect(push.stderr).toMatch(/repair of r is under way/);
    const pull = await runBounded(ws, ['pull', 'r/b:v1', 'dest']);
    expect(pull.code, pull.stderr).toBe(0);
    await expectSameTree(ws.path('dest'), ws.path('src-b'));

    // A repair killed over an hour ago blocks nothing: the next push of the version writes its map.
    await writeFile(ws.path('repo', 'removals'), started(2 * 60 * 60 * 1000));
    const again = await runBounded(ws, ['push', 'r/b:v1', 'src-b']);
    expect(again.code, again.stderr).toBe(0);
    expect(await mapsOf(ws)).toContain(digest);
  });

  it('aim repo upgrade refuses to run while a repair is under way, writing nothing', async () => {
    const ws = await repositoryWithOneVersion();
    await rm(ws.path('repo', 'locations'), { recursive: true });
    await writeFile(ws.path('repo', 'removals'), `started ${new Date().toISOString()} 3b0c3c1e-0000-4000-8000-000000000000\n`);
    const before = await snapshot(ws.path('repo'));
    await expectRefused(ws, ['repo', 'upgrade', 'r'], /a repair of .* is under way/);
    await expectUnchanged(ws.path('repo'), before);
  });
});
