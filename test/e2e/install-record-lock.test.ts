// Two aim commands changing one model's install records at once: `aim rm` of a tag and an `aim update` moving that tag
// to a new version. rm is held still through a FIFO (AIM_TEST_PAUSE_BEFORE_RECORD_REMOVAL) between its look at the
// tag's record and its removal of it, the update runs meanwhile, and the end state must be one that either order of
// the two would leave: each record's version folder there, and each version folder named by a record. The same of
// two installs moving one tag to two versions. Then the records lock (installed/<repo>/<model>/.aim/lock) left by a
// killed aim, and one planted as a link. Through the built CLI.
import { lstat, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { createWorkspace, expectUserError, type Workspace } from '../helpers/cli.js';
import { startPaused, waitingFor } from '../helpers/pull-pause.js';

const KiB = 1024;
const FILES = [
  { path: 'config.json', size: 300 },
  { path: 'weights.bin', size: 200 * KiB },
];

describe("a model's install records lock", () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    await generateModel(ws.path('model-1'), { files: FILES, seed: 'record-lock-1' });
    await generateModel(ws.path('model-2'), { files: FILES, seed: 'record-lock-2' });
  });
  afterAll(() => ws.cleanup());

  const recordsFolder = (model: string) => join(ws.home, 'installed', 'r', model);
  const lockFolder = (model: string) => join(recordsFolder(model), '.aim');

  /** The digests (hex) the model's records name, and those of its version folders under AIM_HOME/models. */
  async function recordsAndFolders(model: string): Promise<{ recorded: string[]; folders: string[] }> {
    const names = (folder: string) => readdir(folder).catch(() => [] as string[]);
    const records = (await names(recordsFolder(model))).filter((name) => name.endsWith('.json'));
    const recorded = await Promise.all(records.map(async (name) => JSON.parse(await readFile(join(recordsFolder(model), name), 'utf8')).digest.slice(7)));
    return { recorded: recorded.sort(), folders: (await names(join(ws.home, 'models', 'r', model))).sort() };
  }

  it('an update of a tag while `aim rm` of it is between its look at the record and its removal: no folder left unrecorded, no record without its folder', async () => {
    await ws.json(['push', 'r/m:v1', 'model-1']);
    await ws.json(['push', 'r/m:v2', 'model-2']);
    await ws.json(['install', 'r/m:v1']);
    await ws.json(['tag', 'r/m:v2', 'v1', '--force']);

    const removing = await startPaused(ws, 'AIM_TEST_PAUSE_BEFORE_RECORD_REMOVAL', ['rm', 'r/m:v1', '--json']);
    const updating = ws.start(['update', 'r/m:v1', '--json']);
    // It waits for rm, for the records lock. One whose write got through would wait too, for the old version's folder
    // rm holds: then the check below fails, rather than this wait hanging.
    expect((await waitingFor(updating)).pid).toBe(removing.running.child.pid);
    await removing.go();
    const [removed, updated] = await Promise.all([removing.running.result, updating.result]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(updated.code, updated.stderr).toBe(0);

    const { recorded, folders } = await recordsAndFolders('m');
    expect(folders).toEqual(recorded);
    // rm came first for the record, then the update wrote its own: v1 is installed at the new version.
    expect(recorded).toEqual([(await ws.json(['inspect', 'r/m:v2'])).digest.slice(7)]);
    await expect(lstat(lockFolder('m'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('an install that moved a tag releases the version its record replaced, not the one it found when it began', async () => {
    await generateModel(ws.path('model-3'), { files: FILES, seed: 'record-lock-3' });
    for (const [tag, folder] of [['v1', 'model-1'], ['v2', 'model-2'], ['v3', 'model-3']]) await ws.json(['push', `r/p:${tag}`, folder]);
    await ws.json(['install', 'r/p:v1']);
    // The first install finds v1 at its first version and moves it to the second, held still before its moves.
    await ws.json(['tag', 'r/p:v2', 'v1', '--force']);
    const first = await startPaused(ws, 'AIM_TEST_PAUSE_BEFORE_RENAMES', ['install', 'r/p:v1', '--json']);
    // Meanwhile another moves it to the third, and releases the first version.
    await ws.json(['tag', 'r/p:v3', 'v1', '--force']);
    await ws.json(['install', 'r/p:v1']);
    await first.go();
    const done = await first.running.result;
    expect(done.code, done.stderr).toBe(0);
    const { recorded, folders } = await recordsAndFolders('p');
    expect(folders).toEqual(recorded);
    expect(recorded).toEqual([(await ws.json(['inspect', 'r/p:v2'])).digest.slice(7)]);
    expect(done.json().previous).toMatchObject({ digest: (await ws.json(['inspect', 'r/p:v3'])).digest, removed: true });
  });

  it('`aim rm` of a bundle while another bundle sharing a member is being installed: that member is installed when the install ends', async () => {
    await ws.json(['push', 'r/shared:v1', 'model-1']);
    await ws.json(['push', 'r/own:v1', 'model-2']);
    await ws.json(['bundle', 'r/first:v1', 'shared:v1', 'own:v1']);
    await ws.json(['bundle', 'r/second:v1', 'shared:v1']);
    await ws.json(['install', 'r/first:v1']);
    // The second bundle's member is in place (the first's), its record not yet written: to `aim rm first` no other
    // installed bundle names it, so it goes.
    const installing = await startPaused(ws, 'AIM_TEST_PAUSE_BEFORE_BUNDLE_RECORD', ['install', 'r/second:v1', '--json']);
    const removed = await ws.json(['rm', 'first']);
    expect(removed.removed).toContainEqual(expect.objectContaining({ folder: expect.stringContaining(join('models', 'r', 'shared')), removed: true }));
    expect(await recordsAndFolders('shared'), 'rm removed the shared member').toEqual({ recorded: [], folders: [] });
    await installing.go();
    const done = await installing.running.result;
    expect(done.code, done.stderr).toBe(0);

    const shared = await recordsAndFolders('shared');
    expect(shared.recorded).toEqual([(await ws.json(['inspect', 'r/shared:v1'])).digest.slice(7)]);
    expect(shared.folders).toEqual(shared.recorded);
    const installed = await ws.json(['installed']);
    expect(installed.bundles).toMatchObject([{ bundle: 'second', members: [{ model: 'shared' }] }]);
    const member = installed.models.find((m: { reference: string }) => m.reference.startsWith('r/shared@'));
    expect(await readdir(member.folder)).toEqual(expect.arrayContaining(['config.json', 'weights.bin']));
    await expect(lstat(join(ws.home, 'installed-bundles', '.aim'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('`aim rm` of a name nothing installed leaves no folder of the bundles lock behind', async () => {
    const own = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    try {
      expect((await own.run(['rm', 'nothing'])).code).toBe(3);
      await expect(lstat(join(own.home, 'installed-bundles'))).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await own.cleanup();
    }
  });

  it('a records lock left by an aim killed while holding it is taken over at once by the next command', async () => {
    await ws.json(['push', 'r/k:v1', 'model-1']);
    await ws.json(['install', 'r/k:v1']);
    const removing = await startPaused(ws, 'AIM_TEST_PAUSE_BEFORE_RECORD_REMOVAL', ['rm', 'r/k:v1']);
    removing.running.child.kill('SIGKILL');
    expect((await removing.running.result).signal).toBe('SIGKILL');
    await removing.go();
    expect(JSON.parse(await readFile(join(lockFolder('k'), 'lock'), 'utf8')).pid).toBe(removing.running.child.pid);

    const again = await ws.run(['rm', 'r/k:v1', '-v'], { env: { AIM_PULL_LOCK_WAIT_MS: '0' } });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/took over the lock of an aim command that is gone: .*installed\/r\/k\/\.aim\/lock/);
    expect(await recordsAndFolders('k')).toEqual({ recorded: [], folders: [] });
    await expect(lstat(lockFolder('k'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a records lock that is a link with one plain error naming it, following nothing and removing nothing', async () => {
    await ws.json(['push', 'r/l:v1', 'model-1']);
    await ws.json(['install', 'r/l:v1']);
    const outside = ws.path('outside-lock.json');
    await writeFile(outside, 'not a lock');
    await mkdir(lockFolder('l'));
    await symlink(outside, join(lockFolder('l'), 'lock'));
    const refused = await ws.run(['rm', 'r/l:v1']);
    expectUserError(refused, /installed\/r\/l\/\.aim\/lock is a symlink, not a regular file/);
    expect(await readFile(outside, 'utf8')).toBe('not a lock');
    const { recorded, folders } = await recordsAndFolders('l');
    expect(recorded).toHaveLength(1);
    expect(folders).toEqual(recorded);
  });

  it('an install whose records lock cannot be used fails before it pulls anything, naming the lock', async () => {
    await ws.json(['push', 'r/q:v1', 'model-1']);
    await ws.json(['push', 'r/q:v2', 'model-2']);
    const outside = ws.path('outside-q');
    await mkdir(outside);
    await mkdir(recordsFolder('q'), { recursive: true });
    await symlink(outside, lockFolder('q'));
    const install = await ws.run(['install', 'r/q:v1']);
    expectUserError(install, /installed\/r\/q\/\.aim.*symlink/);
    expect(await recordsAndFolders('q')).toEqual({ recorded: [], folders: [] });
    expect(await readdir(outside)).toEqual([]);

    // The same for an update: the installed version stays, recorded and in place, and the new one is not pulled.
    await rm(lockFolder('q'));
    await ws.json(['install', 'r/q:v1']);
    const before = await recordsAndFolders('q');
    await ws.json(['tag', 'r/q:v2', 'v1', '--force']);
    await symlink(outside, lockFolder('q'));
    const update = await ws.run(['update', 'r/q:v1', '--json']);
    expect(update.code).not.toBe(0);
    expect(update.stdout + update.stderr).toMatch(/installed\/r\/q\/\.aim.*symlink/);
    expect(await recordsAndFolders('q')).toEqual(before);
    expect(await readdir(outside)).toEqual([]);
  });
});
