// What stands in DEST where the version has a folder (a file, a link, a FIFO at `sub` when the version has
// `sub/x.json`, at any depth) is replaced only when it is aim's: a file an older version installed there, unchanged.
// Anything else is the user's, refused with the other files of theirs in one line before anything is fetched; --force
// moves it into the trash, and a link goes without what it points at. Through the built CLI.
import { execFileSync } from 'node:child_process';
import { appendFile, cp, lstat, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace, expectSameTree, writeTree, type Workspace } from '../helpers/cli.js';
import { expectRefused } from '../helpers/pull-refusal.js';
import { expectUnchanged, snapshot } from '../hostile/harness.js';

/** Writes `files` into the workspace's folder `name`; returns its path. */
async function folderOf(ws: Workspace, name: string, files: Record<string, string>): Promise<string> {
  await writeTree(ws.path(name), files);
  return ws.path(name);
}

describe('a pull and what stands where the version has a folder', () => {
  let ws: Workspace;
  let dests = 0;
  const freshDest = () => ws.path(`dest-${++dests}`);

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    await folderOf(ws, 'deep', { 'a/b/c/x.json': '{"deep": 1}', 'config.json': '{}', 'p/q.json': '{"q": 1}', 'sub/x.json': '{"x": 1}' });
    await ws.json(['push', 'r/deep:v1', 'deep']);
    // v1 has a file `sub`, v2 a folder of that name.
    await folderOf(ws, 'flat', { sub: 'a file in v1' });
    await folderOf(ws, 'nested', { 'sub/x.json': '{"x": 2}' });
    await ws.json(['push', 'r/turn:v1', 'flat']);
    await ws.json(['push', 'r/turn:v2', 'nested']);
  });
  afterAll(() => ws.cleanup());

  it('refuses a file, a link and a FIFO there, at any depth, in one line with the other files, before fetching anything', async () => {
    const dest = freshDest();
    await mkdir(join(dest, 'a'), { recursive: true });
    const elsewhere = await folderOf(ws, 'elsewhere', { 'kept.txt': 'the user\'s, outside DEST' });
    await symlink(elsewhere, join(dest, 'a', 'b'));
    execFileSync('mkfifo', [join(dest, 'p')]);
    await writeFile(join(dest, 'sub'), 'mine');
    await writeFile(join(dest, 'config.json'), 'my config');
    const before = await snapshot(dest);

    expectRefused(await ws.run(['pull', 'r/deep:v1', dest]), `${join(dest, 'a', 'b')} (a symlink where the version has a folder)`, 3);
    await expectUnchanged(dest, before);

    await ws.json(['pull', 'r/deep:v1', dest, '--force']);
    await expectSameTree(dest, ws.path('deep'));
    expect((await lstat(join(dest, 'a', 'b'))).isDirectory()).toBe(true);
    expect(await readFile(join(elsewhere, 'kept.txt'), 'utf8')).toBe('the user\'s, outside DEST');
  });

  it('refuses a file deep down where a folder goes, alone', async () => {
    const dest = freshDest();
    await mkdir(join(dest, 'a'), { recursive: true });
    await writeFile(join(dest, 'a', 'b'), 'mine');
    const before = await snapshot(dest);
    expectRefused(await ws.run(['pull', 'r/deep:v1', dest]), `${join(dest, 'a', 'b')} (a file where the version has a folder)`, 0);
    await expectUnchanged(dest, before);
  });

  it('replaces the file an older version installed where the new one has a folder; refuses it once edited', async () => {
    const dest = freshDest();
    await ws.json(['pull', 'r/turn:v1', dest]);
    await ws.json(['pull', 'r/turn:v2', dest]);
    await expectSameTree(dest, ws.path('nested'));
    // A copy of the folder: `sub` has another inode, the bytes aim wrote.
    const copied = freshDest();
    await ws.json(['pull', 'r/turn:v1', copied]);
    await cp(copied, `${copied}-copy`, { recursive: true });
    await ws.json(['pull', 'r/turn:v2', `${copied}-copy`]);
    await expectSameTree(`${copied}-copy`, ws.path('nested'));

    const edited = freshDest();
    await ws.json(['pull', 'r/turn:v1', edited]);
    await appendFile(join(edited, 'sub'), ', edited');
    expectRefused(await ws.run(['pull', 'r/turn:v2', edited]), `${join(edited, 'sub')} (a file where the version has a folder)`, 0);
    expect(await readFile(join(edited, 'sub'), 'utf8')).toBe('a file in v1, edited');
  });
});
