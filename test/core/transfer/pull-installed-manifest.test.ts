// A pull writes DEST/.aim/manifest.json (the version it installs) while it renames the files into place, and
// DEST/.aim/state.json (which names the version) once they all are. A pull that stops between the two (a rename that
// fails, a kill) must not leave a state naming the old version beside the new version's manifest: `aim verify DEST`
// would then check the files against one version and report them as the other. Through the real CLI.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../../fixtures/generate-model.js';
import { digestOf } from '../../../src/core/format/digest.js';
import { createWorkspace, expectSameTree, expectUserError, type Workspace } from '../../helpers/cli.js';

describe('the installed manifest and the state beside it', () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
  });
  afterAll(() => ws.cleanup());

  it('never name two versions after an update that failed while renaming', async () => {
    await generateModel(ws.path('v1'), { files: [{ path: 'a.json', size: 900 }, { path: 'sub/b.bin', size: 2000 }], seed: 'installed-v1' });
    await generateModel(ws.path('v2'), { files: [{ path: 'a.json', size: 901 }, { path: 'sub/b.bin', size: 2001 }, { path: 'c/d.json', size: 10 }], seed: 'installed-v2' });
    const v1 = await ws.json(['push', 'r/m:v1', 'v1']);
    const v2 = await ws.json(['push', 'r/m:v2', 'v2']);
    await ws.json(['pull', 'r/m:v1', 'out']);
    expect((await ws.json(['verify', './out'])).digest).toBe(v1.digest);

    // The update to v2 fails at one rename: a folder of the user's where v2's c/d.json goes, which --force moves into
    // DEST/.aim/trash, and the trash is no folder.
    await mkdir(ws.path('out', 'c', 'd.json', 'mine'), { recursive: true });
    await writeFile(ws.path('out', '.aim', 'trash'), 'not a folder');
    expectUserError(await ws.run(['pull', 'r/m:v2', 'out', '--force']), /trash is a file, not a folder/);

    // a.json now holds v2's bytes: verify must not call the folder v1 and find nothing wrong with it.
    const verified = await ws.run(['verify', './out', '--json']);
    if (verified.stdout.trim()) {
      const report = JSON.parse(verified.stdout);
      // Verified as v1, it may only name v1's files (as changed), never c/d.json, which only v2 has.
      if (report.digest === v1.digest) expect([...report.missing, ...report.corrupt].filter((path: string) => !['a.json', 'sub/b.bin'].includes(path)), verified.stdout).toEqual([]);
      expect(report.digest === v1.digest && report.ok, `verify reported ${verified.stdout}`).toBe(false);
    } else {
      expectUserError(verified, /out holds no version aim pulled .*a pull into it did not finish/);
    }

    // Once the folder is moved away, the same pull finishes, and verify names v2.
    await rm(ws.path('out', 'c', 'd.json'), { recursive: true });
    await rm(ws.path('out', '.aim', 'trash'));
    await ws.json(['pull', 'r/m:v2', 'out']);
    await expectSameTree(ws.path('out'), ws.path('v2'));
    expect(await ws.json(['verify', './out'])).toMatchObject({ digest: v2.digest, ok: true });
  });

  it('keeps the version manifest\'s exact bytes, however the repository laid them out', async () => {
    await generateModel(ws.path('laid'), { files: [{ path: 'a.json', size: 300 }, { path: 'sub/b.bin', size: 5000 }], seed: 'laid-out' });
    const pushed = await ws.json(['push', 'r/laid:v1', 'laid']);
    const hexOf = (digest: string) => digest.slice('blake3:'.length);
    const compact = await readFile(ws.path('repo', 'manifests', 'blake3', hexOf(pushed.digest).slice(0, 2), hexOf(pushed.digest)));
    // The same manifest written by another tool, indented: another version, whose digest is of these bytes.
    const indented = Buffer.from(`${JSON.stringify(JSON.parse(compact.toString()), null, 2)}\n`);
    const digest = await digestOf(indented);
    await mkdir(ws.path('repo', 'manifests', 'blake3', hexOf(digest).slice(0, 2)), { recursive: true });
    await writeFile(ws.path('repo', 'manifests', 'blake3', hexOf(digest).slice(0, 2), hexOf(digest)), indented);
    await writeFile(ws.path('repo', 'models', 'laid', 'tags', 'indented'), JSON.stringify({ digest, pushedAt: new Date().toISOString(), size: 5300, files: 2 }));

    await ws.json(['pull', 'r/laid:indented', 'laid-out']);
    await expectSameTree(ws.path('laid-out'), ws.path('laid'));
    expect(await readFile(ws.path('laid-out', '.aim', 'manifest.json'))).toEqual(indented);
    expect(await ws.json(['verify', './laid-out'])).toMatchObject({ digest, ok: true });
  });
});
