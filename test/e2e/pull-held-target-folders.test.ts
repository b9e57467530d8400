// A pull moves each built file into its folder of DEST through that folder held open (target-folders.ts), never by its
// path: a folder (or one above it) swapped for a link to a folder outside DEST between the check of the folder and the
// moves takes no file outside DEST, and with --force moves no file from outside into DEST's trash. The pull stops,
// exit 5, naming the folder that changed. The pull is paused once its folders are made and held, before its first
// move (AIM_TEST_PAUSE_AFTER_FOLDERS, a FIFO), so the swap lands exactly there. A file the new version drops is removed
// through its folder held the same way (paused before the removal). Through the built CLI.
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRandomFile } from '../../fixtures/generate-model.js';
import { createWorkspace, expectSameTree, expectUserError, listFiles, writeTree, type Workspace } from '../helpers/cli.js';
import { pullChangedAt, type PullPause } from '../helpers/pull-pause.js';

const KiB = 1024;
/** Enough small files that the writer's threads move them (small-file-writer.ts, MANY_FILES). */
const SMALL_FILES = 300;
const CHANGED = /changed while aim was using it \(a folder on the way was moved or replaced by a link\)/;

describe('a pull whose target folder is swapped for a link after it was made and held', () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    // Files of several chunks, each moved on the main thread.
    await writeRandomFile(ws.path('big', 'models', 'weights.bin'), 900 * KiB, 'held-big');
    await writeRandomFile(ws.path('big', 'a', 'b', 'c', 'weights.bin'), 700 * KiB, 'held-deep');
    await ws.json(['push', 'r/big:v1', 'big']);
    const small: Record<string, string> = { 'tok/vocab.json': 'vocab, the version\'s\n', 'tok/merges.txt': 'merges\n' };
    for (let index = 0; index < SMALL_FILES; index++) small[`many/f${index}.txt`] = `small file ${index}\n`;
    await writeTree(ws.path('small'), small);
    await ws.json(['push', 'r/small:v1', 'small']);
    // A file where the next version has a folder: moved into the trash before that folder is made.
    await writeTree(ws.path('as-file'), { 'x/y': 'y, a file\n' });
    await writeTree(ws.path('as-folder'), { 'x/y/z': 'z, in the folder y\n' });
    await ws.json(['push', 'r/block:file', 'as-file']);
    await ws.json(['push', 'r/block:folder', 'as-folder']);
    // A version that drops a file in a folder: the pull removes it once the new version is in place.
    await writeTree(ws.path('with-sub'), { 'keep.txt': 'kept\n', 'sub/gone.txt': 'dropped by v2\n' });
    await writeTree(ws.path('without-sub'), { 'keep.txt': 'kept\n' });
    await ws.json(['push', 'r/drop:v1', 'with-sub']);
    await ws.json(['push', 'r/drop:v2', 'without-sub']);
  });
  afterAll(() => ws.cleanup());

  /** Runs the pull of `ref` into `dest` with `args`, and `change` once it has paused at `pause` (its folders held). */
  const pullChangedAfterFolders = (ref: string, dest: string, args: string[], change: () => Promise<void>, pause: PullPause = 'AIM_TEST_PAUSE_AFTER_FOLDERS') =>
    pullChangedAt(ws, pause, [ref, dest, ...args], change);

  /** DEST with the version's folders made already (empty): its files are moved into them one by one. */
  async function destWith(name: string, ...folders: string[]): Promise<string> {
    const dest = ws.path(name);
    for (const folder of folders) await mkdir(join(dest, folder), { recursive: true });
    return dest;
  }

  /** An empty folder outside DEST, with `folders` made in it. */
  async function outsideWith(name: string, ...folders: string[]): Promise<string> {
    const outside = ws.path(name);
    await mkdir(outside);
    for (const folder of folders) await mkdir(join(outside, folder), { recursive: true });
    return outside;
  }

  /** Moves DEST's `folder` aside (within DEST) and puts a link to `to` in its place. */
  const swap = (dest: string, folder: string, to: string) => async () => {
    await rename(join(dest, folder), join(dest, `${folder}.moved`));
    await symlink(to, join(dest, folder));
  };

  it('moves a large file into the folder it held, not through the link, and stops with exit 5', async () => {
    const dest = await destWith('big-dest', 'models', 'a/b/c');
    const outside = await outsideWith('big-outside');
    const result = await pullChangedAfterFolders('r/big:v1', dest, [], swap(dest, 'models', outside));
    expect(await readdir(outside)).toEqual([]);
    expectUserError(result, CHANGED);
    expect(result.code).toBe(5);
    expect(result.stderr).toContain(join(dest, 'models'));
    expect(await readdir(join(dest, 'models.moved'))).toEqual(['weights.bin']);

    // Once the link is gone and the folder back, the pull finishes.
    await rm(join(dest, 'models'));
    await rename(join(dest, 'models.moved'), join(dest, 'models'));
    const again = await ws.run(['pull', 'r/big:v1', dest]);
    expect(again.code, again.stderr).toBe(0);
    await expectSameTree(dest, ws.path('big'));
  });

  it('takes nothing through a folder two levels up swapped for a link', async () => {
    const dest = await destWith('deep-dest', 'models', 'a/b/c');
    const outside = await outsideWith('deep-outside', 'b/c');
    const result = await pullChangedAfterFolders('r/big:v1', dest, [], swap(dest, 'a', outside));
    expect(await listFiles(outside)).toEqual([]);
    expectUserError(result, CHANGED);
    expect(result.code).toBe(5);
    expect(result.stderr).toContain(join(dest, 'a', 'b', 'c'));
    expect(await readdir(join(dest, 'a.moved', 'b', 'c'))).toEqual(['weights.bin']);
  });

  it("moves many small files (on the writer's threads) into the folder it held, not through the link", async () => {
    const dest = await destWith('many-dest', 'tok', 'many');
    const outside = await outsideWith('many-outside');
    const result = await pullChangedAfterFolders('r/small:v1', dest, [], swap(dest, 'many', outside));
    expect(await readdir(outside)).toEqual([]);
    expectUserError(result, CHANGED);
    expect(result.code).toBe(5);
    expect(result.stderr).toContain(join(dest, 'many'));
    expect(await readdir(join(dest, 'many.moved'))).toHaveLength(SMALL_FILES);
  });

  it('with --force, moves no file from outside DEST into the trash nor replaces it', async () => {
    const dest = await destWith('forced-dest', 'tok', 'many');
    const outside = await outsideWith('forced-outside');
    // A file outside at a name the version puts in `tok`: through the link, --force would move it into the trash.
    await writeFile(join(outside, 'vocab.json'), 'outside: vocab\n');
    const before = await stat(join(outside, 'vocab.json'));
    const result = await pullChangedAfterFolders('r/small:v1', dest, ['--force'], swap(dest, 'tok', outside));
    expect(await readdir(outside)).toEqual(['vocab.json']);
    expect(await readFile(join(outside, 'vocab.json'), 'utf8')).toBe('outside: vocab\n');
    expect((await stat(join(outside, 'vocab.json'))).ino).toBe(before.ino);
    expectUserError(result, CHANGED);
    expect(result.code).toBe(5);
    const trash = await readdir(join(dest, '.aim', 'trash')).catch(() => []);
    for (const name of trash) expect((await stat(join(dest, '.aim', 'trash', name))).ino).not.toBe(before.ino);
    expect((await readdir(join(dest, 'tok.moved'))).sort()).toEqual(['merges.txt', 'vocab.json']);
  });

  it('with --force, moves no file from outside DEST into the trash where the version now has a folder', async () => {
    const dest = ws.path('blocker-dest');
    const first = await ws.run(['pull', 'r/block:file', dest]);
    expect(first.code, first.stderr).toBe(0);
    const outside = await outsideWith('blocker-outside');
    await writeFile(join(outside, 'y'), 'outside: y\n');
    const before = await stat(join(outside, 'y'));
    // Swapped before the pull moves anything: the file `x/y` it clears first would be taken through the link.
    const result = await pullChangedAfterFolders('r/block:folder', dest, ['--force'], swap(dest, 'x', outside), 'AIM_TEST_PAUSE_BEFORE_RENAMES');
    expect(await readdir(outside)).toEqual(['y']);
    expect(await readFile(join(outside, 'y'), 'utf8')).toBe('outside: y\n');
    expect((await stat(join(outside, 'y'))).ino).toBe(before.ino);
    expectUserError(result, /x is a symlink, not a folder/);
    expect(result.code).toBe(6);
    expect(await readFile(join(dest, 'x.moved', 'y'), 'utf8')).toBe('y, a file\n');
  });

  it('moves nothing through DEST itself swapped for a link after the pull held its .aim, and stops with exit 5', async () => {
    const dest = ws.path('swapped-dest');
    const outside = await outsideWith('swapped-outside');
    const result = await pullChangedAfterFolders('r/small:v1', dest, [], async () => {
      await rename(dest, `${dest}.moved`);
      await symlink(outside, dest);
    }, 'AIM_TEST_PAUSE_BEFORE_RENAMES');
    expect(await readdir(outside)).toEqual([]);
    expectUserError(result, CHANGED);
    expect(result.code).toBe(5);
    expect(result.stderr).toContain(join(dest, '.aim'));

    // Once DEST is back, the pull finishes from what it built.
    await rm(dest);
    await rename(`${dest}.moved`, dest);
    const again = await ws.json(['pull', 'r/small:v1', dest]);
    expect(again.bytesTransferred).toBe(0);
    await expectSameTree(dest, ws.path('small'));
  });

  it('removes a file the new version drops through its folder held, not through a link put there since', async () => {
    const dest = ws.path('drop-dest');
    const first = await ws.run(['pull', 'r/drop:v1', dest]);
    expect(first.code, first.stderr).toBe(0);
    const outside = await outsideWith('drop-outside');
    await writeFile(join(outside, 'gone.txt'), 'outside: gone\n');
    const result = await pullChangedAfterFolders('r/drop:v2', dest, [], swap(dest, 'sub', outside), 'AIM_TEST_PAUSE_BEFORE_REMOVALS');
    expect(await readdir(outside)).toEqual(['gone.txt']);
    expect(await readFile(join(outside, 'gone.txt'), 'utf8')).toBe('outside: gone\n');
    expect(result.code, result.stderr).toBe(0);
    expect(await readdir(join(dest, 'sub.moved'))).toEqual([]);
  });

  it('keeps a folder put where a file the new version drops was, once that file was found unchanged', async () => {
    const dest = ws.path('drop-folder-dest');
    const first = await ws.run(['pull', 'r/drop:v1', dest]);
    expect(first.code, first.stderr).toBe(0);
    const gone = join(dest, 'sub', 'gone.txt');
    const result = await pullChangedAfterFolders('r/drop:v2', dest, [], async () => {
      await rm(gone);
      await mkdir(gone);
      await writeFile(join(gone, 'mine.txt'), 'the user\'s\n');
    }, 'AIM_TEST_PAUSE_BEFORE_REMOVALS');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toContain('/proc/self/fd');
    expect(await readFile(join(gone, 'mine.txt'), 'utf8')).toBe('the user\'s\n');
  });

  it("names a file the pull cannot remove by its path, not by its held folder's /proc/self/fd path", async () => {
    const dest = ws.path('drop-stuck-dest');
    const first = await ws.run(['pull', 'r/drop:v1', dest]);
    expect(first.code, first.stderr).toBe(0);
    const gone = join(dest, 'sub', 'gone.txt');
    // Immutable: not even root may remove it (set once the pull found it unchanged: the flag moves its ctime).
    try {
      const result = await pullChangedAfterFolders('r/drop:v2', dest, [], async () => void execFileSync('chattr', ['+i', gone]), 'AIM_TEST_PAUSE_BEFORE_REMOVALS');
      expectUserError(result, /permission denied/);
      expect(result.code).toBe(6);
      expect(result.stderr).toContain(gone);
      expect(result.stderr).not.toContain('/proc/self/fd');
    } finally {
      execFileSync('chattr', ['-i', gone]);
    }
  });

  it("names a failure in DEST/.aim/partial by its path, not by the held folder's /proc/self/fd path", async () => {
    const dest = ws.path('partial-dest');
    const { manifest } = await ws.json(['inspect', 'r/drop:v2']);
    const partial = join(dest, '.aim', 'partial', manifest.files[0].digest.slice('blake3:'.length));
    // A folder where the pull writes a file's partial.
    await mkdir(join(partial, 'sub'), { recursive: true });
    const result = await ws.run(['pull', 'r/drop:v2', dest]);
    expectUserError(result, /is a folder where a file should be/);
    expect(result.stderr).toContain(partial);
    expect(result.stderr).not.toContain('/proc/self/fd');
  });
});
