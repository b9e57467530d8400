// Installing a bundle (src/core/bundle/install-bundle.ts) pulls each member into AIM_HOME, where the other versions of
// the same model already there offer their chunks (core/install/pull-into-home.ts). AIM_HOME may hold what someone
// else put there: a "version folder" that is a link to a folder elsewhere, or whose `.aim` is one. Each case fails if
// the install reads a chunk through such a link (it then fetches fewer bytes than the version holds) or changes
// anything outside.
import { cp, mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { createWorkspace, expectSameTree, type Workspace } from '../helpers/cli.js';
import { expectUnchanged, runBounded, snapshot } from './harness.js';

const OTHER_VERSION = 'f'.repeat(64);

describe('a bundle installed beside planted version folders in AIM_HOME', () => {
  let ws: Workspace;
  let copy: string;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    await generateModel(ws.path('model'), { files: [{ path: 'weights.bin', size: 3 * 1024 * 1024 }, { path: 'config.json', size: 900 }], seed: 'bundle-home' });
    await ws.json(['push', 'r/m:v1', 'model']);
    await ws.json(['bundle', 'r/kit:v1', 'm:v1']);
    // A real pulled copy of the version, outside AIM_HOME: every chunk of it would match.
    copy = ws.path('outside', 'copy');
    await ws.json(['pull', 'r/m:v1', copy]);
  });
  afterAll(() => ws.cleanup());

  const plants: Record<string, (folder: string) => Promise<void>> = {
    'the folder is a link to a pulled copy elsewhere': (folder) => symlink(copy, folder),
    'the folder is real, its .aim a link to the copy elsewhere': async (folder) => {
      await cp(copy, folder, { recursive: true, filter: (source) => !source.endsWith('/.aim') });
      await symlink(join(copy, '.aim'), join(folder, '.aim'));
    },
  };

  for (const [name, plant] of Object.entries(plants)) {
    it(`${name}: nothing is read through the link`, async () => {
      const home = ws.path(`home-${Object.keys(plants).indexOf(name)}`);
      await mkdir(join(home, 'models', 'r', 'm'), { recursive: true });
      await plant(join(home, 'models', 'r', 'm', OTHER_VERSION));
      const before = await snapshot(ws.path('outside'));
      const result = await runBounded(ws, ['install', 'r/kit:v1', '--json'], {}, { env: { AIM_HOME: home } });
      expect(result.code, result.stderr).toBe(0);
      const [member] = result.json().members;
      expect(member.pull.bytesTransferred, 'bytes fetched: none taken from the planted folder').toBe(member.pull.totalBytes);
      await expectSameTree(member.folder, ws.path('model'));
      await expectUnchanged(ws.path('outside'), before);
    });
  }
});
