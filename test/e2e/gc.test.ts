// aim gc on a local folder through the built CLI: after a version is deleted, gc reclaims exactly the chunk bytes no
// other version uses (measured from the packs on disk), every remaining tag verifies and pulls the same files, a dry
// run and the default grace period remove nothing, and a gc killed after each step of its write order leaves a
// repository that verifies, which a rerun then cleans.
import { cp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { GC_STEPS } from '../../src/settings/test-hooks.js';
import { createWorkspace, expectSameTree, expectUserError, type Workspace } from '../helpers/cli.js';
import { chunksOf, packChunkBytes, snapshot, sumSizes, taggedDigests } from '../helpers/repo-files.js';

const MiB = 1024 * 1024;
const NOW = ['--grace', '0', '--max-unused', '0'];

describe('aim gc (local folder)', () => {
  let ws: Workspace;
  const repo = (name = 'repo') => ws.path(name);
  /** Chunk bytes only m:v1 used, measured before it was deleted. */
  let onlyV1 = 0;

  /**
   * m:v1 = shared + only1; m:v2 = shared + b; other:v1 = c (no chunk in common with m: across models a push dedupes
   * only through key chunks, so the same file there could be stored twice). Then m:v1 is deleted.
   */
  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({
      r: { type: 'local', path: `${dir}/repo`, packs: true },
      template: { type: 'local', path: `${dir}/template`, packs: true },
    }));
    const spec = (files: Record<string, number>) => ({ files: Object.entries(files).map(([path, size]) => ({ path, size })), seed: 'gc' });
    await generateModel(ws.path('v1'), spec({ 'shared.bin': 20 * MiB, 'only1.bin': 5 * MiB }));
    await generateModel(ws.path('v2'), spec({ 'shared.bin': 20 * MiB, 'b.bin': 2 * MiB }));
    await generateModel(ws.path('other'), spec({ 'c.bin': 3 * MiB }));
    for (const [ref, dir] of [['m:v1', 'v1'], ['m:v2', 'v2'], ['other:v1', 'other']]) await ws.json(['push', `template/${ref}`, ws.path(dir!)]);
    const stored = await packChunkBytes(repo('template'));
    expect(stored).toBe(sumSizes(await chunksOf(repo('template'), await taggedDigests(repo('template')))));
    await ws.json(['model', 'delete-version', 'template', 'm', '--tag', 'v1']);
    onlyV1 = stored - sumSizes(await chunksOf(repo('template'), await taggedDigests(repo('template'))));
    expect(onlyV1).toBe(5 * MiB);
  });
  afterAll(() => ws.cleanup());

  const fresh = async (): Promise<void> => {
    await rm(repo(), { recursive: true, force: true });
    await rm(ws.path('out'), { recursive: true, force: true });
    await cp(repo('template'), repo('repo'), { recursive: true, preserveTimestamps: true, force: true });
  };

  const expectEveryTagPulls = async (): Promise<void> => {
    const verified = await ws.run(['verify', 'r']);
    expect(verified.code, verified.stderr).toBe(0);
    for (const [ref, dir] of [['m:v2', 'v2'], ['m:latest', 'v2'], ['other:v1', 'other']]) {
      const out = ws.path('out', ref!.replace(':', '-'));
      await ws.json(['pull', `r/${ref}`, out]);
      await expectSameTree(out, ws.path(dir!));
    }
  };

  it('a dry run, and a run within the default grace period, change nothing', async () => {
    await fresh();
    const before = await snapshot(repo());
    const dry = await ws.json(['gc', 'r', ...NOW]);
    expect(dry.dryRun).toBe(true);
    expect(dry.bytes.reclaimed).toBeGreaterThan(onlyV1 - 1);
    expect(dry.manifests).toBe(1);
    const young = await ws.json(['gc', 'r', '--yes']);
    expect(young.bytes.reclaimed).toBe(0);
    expect(await snapshot(repo())).toEqual(before);
  });

  it('--yes --grace 0 reclaims exactly the chunk bytes no other version uses; every tag pulls and verifies', async () => {
    await fresh();
    const before = await packChunkBytes(repo());
    const done = await ws.json(['gc', 'r', '--yes', ...NOW]);
    expect(done.dryRun).toBe(false);
    const after = await packChunkBytes(repo());
    expect(before - after).toBe(onlyV1);
    expect(after).toBe(sumSizes(await chunksOf(repo(), await taggedDigests(repo()))));
    expect(done.manifests).toBe(1);
    expect(await readdir(join(repo(), 'pending'))).toEqual([]);
    await expectEveryTagPulls();
    const again = await ws.json(['gc', 'r', '--yes', ...NOW]);
    expect(again.bytes.reclaimed).toBe(0);
    expect(again.packs.repacked + again.packs.deleted).toBe(0);
  });

  it('--max-unused leaves a pack whose waste is under the limit', async () => {
    await fresh();
    const lenient = await ws.json(['gc', 'r', '--grace', '0', '--max-unused', '90']);
    expect(lenient.packs.repacked).toBe(0);
    expect(lenient.bytes.unusedLeft).toBeGreaterThan(0);
  });

  it.each(GC_STEPS)('killed after step "%s": the repository verifies and every tag pulls; a rerun cleans it', async (step) => {
    await fresh();
    const killed = await ws.run(['gc', 'r', '--yes', ...NOW], { env: { AIM_TEST_STOP_AFTER: step } });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    await expectEveryTagPulls();
    const rerun = await ws.run(['gc', 'r', '--yes', ...NOW, '--json']);
    expect(rerun.code, rerun.stderr).toBe(0);
    await expectEveryTagPulls();
    expect(await packChunkBytes(repo())).toBe(sumSizes(await chunksOf(repo(), await taggedDigests(repo()))));
    expect((await ws.json(['gc', 'r', '--yes', ...NOW])).bytes.reclaimed).toBe(0); // and the killed gc's mark is ended
  });

  it('a tag that does not read stops --yes with one plain line, removing nothing', async () => {
    await fresh();
    await writeFile(join(repo(), 'models', 'm', 'tags', 'broken'), 'not a tag');
    const before = await snapshot(repo());
    const refused = await ws.run(['gc', 'r', '--yes', ...NOW]);
    expectUserError(refused, /gc cannot tell what models\/m\/tags\/broken/);
    expect(refused.code).toBe(4);
    expect(await snapshot(repo())).toEqual(before);
  });

  it('planted garbage under gc/ (a record, the lock) costs nothing: gc and push go on', async () => {
    await fresh();
    await mkdir(join(repo(), 'gc'), { recursive: true });
    await writeFile(join(repo(), 'gc', '0123456789abcdef.json'), '{"format":1,"packs":"nope"}');
    await writeFile(join(repo(), 'gc', 'lock'), Buffer.alloc(10_000, 7));
    const done = await ws.json(['gc', 'r', '--yes', ...NOW]);
    expect(done.bytes.reclaimed).toBeGreaterThan(onlyV1 - 1);
    await ws.json(['push', 'r/m:v3', ws.path('v2')]);
    await expectEveryTagPulls();
  });
});

