// A pull moves a built file to a name that was free when it last looked only while that name is still free: a file
// put there between that look and the move (the user's, another program's) is kept, and the pull stops, exit 5,
// naming it; run again once it is moved away, the pull finishes. With --force it is moved into the trash instead.
// The pull is paused between its last look and its moves through a FIFO (AIM_TEST_PAUSE_BEFORE_RENAMES), so the
// change lands there exactly. Through the built CLI.
import { link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { createWorkspace, expectSameTree, expectUserError, writeTree, type Workspace } from '../helpers/cli.js';
import { pullChangedAt } from '../helpers/pull-pause.js';

const KiB = 1024;
/** A file of one chunk at the top, small files in a folder, and a file of several chunks (each moved another way). */
const FILES = [
  { path: 'config.json', size: 300 },
  { path: 'tok/vocab.json', size: 2 * KiB },
  { path: 'tok/merges.txt', size: 3 * KiB },
  { path: 'weights.bin', size: 900 * KiB },
];

describe('a pull and a name taken between its last look and its moves', () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    await generateModel(ws.path('model'), { files: FILES, seed: 'free-names' });
    await ws.json(['push', 'r/m:v1', 'model']);
    await generateModel(ws.path('model2'), { files: FILES, seed: 'free-names-2' });
    await ws.json(['push', 'r/m:v2', 'model2']);
  });
  afterAll(() => ws.cleanup());

  /** Runs the pull of `ref` into `dest` with `args`, and `change` once it has paused before its moves (DEST as it last looked). */
  const pullChangedBeforeMoves = (dest: string, args: string[], change: () => Promise<void>, ref = 'r/m:v1') =>
    pullChangedAt(ws, 'AIM_TEST_PAUSE_BEFORE_RENAMES', [ref, dest, ...args], change);

  /** A folder DEST has already (its files are moved in one by one) and files put at three of the version's names. */
  const putTheirs = (dest: string) => async () => {
    await writeFile(join(dest, 'config.json'), 'theirs: config\n');
    await writeFile(join(dest, 'tok', 'vocab.json'), 'theirs: vocab\n');
    await writeFile(join(dest, 'weights.bin'), 'theirs: weights\n');
  };

  it('keeps what took a free name, stops with exit 5 naming it, and finishes once it is moved away', async () => {
    const dest = ws.path('kept');
    await mkdir(join(dest, 'tok'), { recursive: true });
    const result = await pullChangedBeforeMoves(dest, [], putTheirs(dest));
    expectUserError(result, /appeared while aim was putting files in place; it was left as it is/);
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(/hint: move it away \(or pass --force\)/);
    // Named as the user knows it, not as the pull reached it (through its folder held, /proc/self/fd/N/...).
    expect(result.stderr).toContain(`${dest}/`);
    expect(result.stderr).not.toContain('/proc/self/fd');
    expect(await readFile(join(dest, 'config.json'), 'utf8')).toBe('theirs: config\n');
    expect(await readFile(join(dest, 'tok', 'vocab.json'), 'utf8')).toBe('theirs: vocab\n');
    expect(await readFile(join(dest, 'weights.bin'), 'utf8')).toBe('theirs: weights\n');

    for (const path of ['config.json', 'tok/vocab.json', 'weights.bin']) await rm(join(dest, path));
    const again = await ws.run(['pull', 'r/m:v1', dest]);
    expect(again.code, again.stderr).toBe(0);
    await expectSameTree(dest, ws.path('model'));
  });

  it('with --force, moves what took a free name into the trash and finishes', async () => {
    const dest = ws.path('forced');
    await mkdir(join(dest, 'tok'), { recursive: true });
    const result = await pullChangedBeforeMoves(dest, ['--force'], putTheirs(dest));
    expect(result.code, result.stderr).toBe(0);
    await expectSameTree(dest, ws.path('model'));
  });

  it("refuses a folder made at a free name too; an empty folder is aim's to replace on the next pull", async () => {
    const dest = ws.path('folder');
    await mkdir(join(dest, 'tok'), { recursive: true });
    const result = await pullChangedBeforeMoves(dest, [], async () => {
      await mkdir(join(dest, 'config.json'));
      await mkdir(join(dest, 'weights.bin'));
    });
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(/appeared while aim was putting files in place/);
    // What a pull finds when it looks: an empty folder holds nothing of anyone's, as at any other name.
    const again = await ws.run(['pull', 'r/m:v1', dest]);
    expect(again.code, again.stderr).toBe(0);
    await expectSameTree(dest, ws.path('model'));
  });

  it('keeps an edit made meanwhile to a file aim installed, and stops with exit 5 naming it', async () => {
    const dest = ws.path('edited');
    const first = await ws.run(['pull', 'r/m:v1', dest]);
    expect(first.code, first.stderr).toBe(0);
    // v2 changes every file: each is aim's to replace, until the user edits one (in place, or saved anew).
    const result = await pullChangedBeforeMoves(
      dest,
      [],
      async () => {
        await writeFile(join(dest, 'config.json'), 'theirs: config\n');
        await writeFile(join(dest, 'weights.bin.new'), 'theirs: weights\n');
        await rename(join(dest, 'weights.bin.new'), join(dest, 'weights.bin'));
      },
      'r/m:v2',
    );
    expectUserError(result, /changed while aim was putting files in place; it was left as it is/);
    expect(result.code).toBe(5);
    expect(await readFile(join(dest, 'config.json'), 'utf8')).toBe('theirs: config\n');
    expect(await readFile(join(dest, 'weights.bin'), 'utf8')).toBe('theirs: weights\n');

    // Now the pull sees them as the user's: refused before anything is fetched, replaced with --force.
    expect((await ws.run(['pull', 'r/m:v2', dest])).code).toBe(5);
    const forced = await ws.run(['pull', 'r/m:v2', dest, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    await expectSameTree(dest, ws.path('model2'));
  });

  it('keeps an edit made meanwhile to a file aim installed where the version now has a folder', async () => {
    await writeTree(ws.path('as-file'), { x: 'x, a file\n' });
    await writeTree(ws.path('as-folder'), { 'x/y': 'y, in the folder x\n' });
    await ws.json(['push', 'r/b:file', 'as-file']);
    await ws.json(['push', 'r/b:folder', 'as-folder']);
    const dest = ws.path('blocker');
    const first = await ws.run(['pull', 'r/b:file', dest]);
    expect(first.code, first.stderr).toBe(0);
    const result = await pullChangedBeforeMoves(dest, [], () => writeFile(join(dest, 'x'), 'theirs: x\n'), 'r/b:folder');
    expectUserError(result, /x changed while aim was putting files in place; it was left as it is/);
    expect(result.code).toBe(5);
    expect(await readFile(join(dest, 'x'), 'utf8')).toBe('theirs: x\n');
  });

  it('takes no edit for a change of another name of the same file (two files hard-linked, as a dedupe tool leaves them)', async () => {
    await writeTree(ws.path('same-1'), { 'a.txt': 'one\n', 'b.txt': 'one\n' });
    await writeTree(ws.path('same-2'), { 'a.txt': 'two\n', 'b.txt': 'two\n' });
    await ws.json(['push', 'r/same:1', 'same-1']);
    await ws.json(['push', 'r/same:2', 'same-2']);
    const dest = ws.path('deduped');
    expect((await ws.run(['pull', 'r/same:1', dest])).code).toBe(0);
    await rm(join(dest, 'b.txt'));
    await link(join(dest, 'a.txt'), join(dest, 'b.txt'));
    // b.txt is replaced after a.txt (a copy of its result): replacing a.txt moved the times of the file both name.
    const result = await ws.run(['pull', 'r/same:2', dest]);
    expect(result.code, result.stderr).toBe(0);
    await expectSameTree(dest, ws.path('same-2'));
  });

  it('with --force, also moves into the trash what took a name in a folder made meanwhile where the pull made a new one', async () => {
    const dest = ws.path('forced-fresh');
    await mkdir(dest);
    // DEST has no `tok`: the pull builds it whole in .aim/fresh, then finds one made meanwhile and fills that instead.
    const result = await pullChangedBeforeMoves(dest, ['--force'], async () => {
      await mkdir(join(dest, 'tok'));
      await writeFile(join(dest, 'tok', 'vocab.json'), 'theirs: vocab\n');
    });
    expect(result.code, result.stderr).toBe(0);
    await expectSameTree(dest, ws.path('model'));
  });
});
