// A folder of the user's under the final name of a file the pull installs: aim never deletes it, and the pull stops
// before it fetches anything with one plain line (exit 5) that names that folder. Once the folder is moved away the
// same pull finishes. For a small file (renamed by the small-file writer's worker thread) and a big one (renamed on
// the main thread). Through the real CLI.
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../../fixtures/generate-model.js';
import { createWorkspace, expectSameTree, expectUserError, type Workspace } from '../../helpers/cli.js';

describe('a folder where a pulled file goes', () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    await generateModel(ws.path('model'), {
      files: [
        { path: 'sub/small.json', size: 900 },
        { path: 'sub/other.json', size: 700 },
        { path: 'big/weights.bin', size: 6 * 1024 * 1024 },
      ],
      seed: 'pull-occupied',
    });
    await ws.json(['push', 'r/m:v1', 'model']);
  });
  afterAll(() => ws.cleanup());

  for (const [kind, path] of [
    ['small', 'sub/small.json'],
    ['big', 'big/weights.bin'],
  ] as const) {
    it(`is named in the error, kept, and the pull finishes once it is moved (${kind} file)`, async () => {
      const dest = `out-${kind}`;
      await mkdir(ws.path(dest, ...path.split('/'), 'mine'), { recursive: true });
      await writeFile(ws.path(dest, ...path.split('/'), 'mine', 'notes.txt'), 'keep me');

      const failed = await ws.run(['pull', 'r/m:v1', dest]);
      expect(failed.code).toBe(5);
      expectUserError(failed, new RegExp(`${dest}/${path} \\(a folder holding files\\) is not aim's and would be replaced`));
      expect(await readdir(ws.path(dest, ...path.split('/'), 'mine'))).toEqual(['notes.txt']);

      await rm(ws.path(dest, ...path.split('/')), { recursive: true });
      await ws.json(['pull', 'r/m:v1', dest]);
      await expectSameTree(ws.path(dest), ws.path('model'));
    });
  }
});
