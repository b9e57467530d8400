// A pull replaces under the version's names only what aim put there and nobody changed since (or what holds no data:
// a link, a FIFO, an empty folder). A file or folder of the user's at one of those names stops it before anything is
// fetched, exit 5, naming it, with DEST exactly as it was; --force replaces them. What a killed pull or an untouched
// older version left is aim's, never the user's. Through the built CLI.
import { execFileSync } from 'node:child_process';
import { appendFile, cp, lstat, mkdir, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { createWorkspace, expectSameTree, expectUserError, killWhen, listFiles, type CliResult, type Workspace } from '../helpers/cli.js';
import { pullChangedAt } from '../helpers/pull-pause.js';
import { expectRefused } from '../helpers/pull-refusal.js';
import { expectUnchanged, snapshot } from '../hostile/harness.js';

const KiB = 1024;
const V1 = [
  { path: 'config.json', size: 300 },
  { path: 'weights.bin', size: 600 * KiB },
  { path: 'sub/tokenizer.json', size: 2 * KiB },
];

describe('a pull and the files in DEST that are not aim\'s', () => {
  let ws: Workspace;
  let v2: string;
  let dests = 0;
  /** A new folder of the workspace (its path), not yet made. */
  const freshDest = () => ws.path(`dest-${++dests}`);

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    await generateModel(ws.path('v1'), { files: V1, seed: 'keeps-v1' });
    // v2 changes config.json and weights.bin; the tokenizer stays.
    await cp(ws.path('v1'), ws.path('v2'), { recursive: true });
    await generateModel(ws.path('v2'), { files: [V1[0]!, V1[1]!], seed: 'keeps-v2' });
    await ws.json(['push', 'r/m:v1', 'v1']);
    v2 = (await ws.json(['push', 'r/m:v2', 'v2'])).digest;
  });
  afterAll(() => ws.cleanup());

  it('refuses a file of the user\'s at a name the version writes, before fetching anything, and leaves DEST as it was', async () => {
    const dest = freshDest();
    await mkdir(join(dest, 'sub'), { recursive: true });
    await writeFile(join(dest, 'config.json'), '{"mine": true}\n');
    await writeFile(join(dest, 'sub', 'tokenizer.json'), 'my tokenizer');
    await writeFile(join(dest, 'notes.txt'), 'not in the version');
    const before = await snapshot(dest);

    expectRefused(await ws.run(['pull', 'r/m:v1', dest]), join(dest, 'config.json'), 1);
    // Not even DEST/.aim: nothing was staged in .aim/partial, nothing fetched.
    await expectUnchanged(dest, before);

    const json = await ws.run(['model', 'pull', 'r', 'm', dest, '--tag', 'v1', '--json']);
    expect(json.code).toBe(5);
    expect(json.json().error).toMatchObject({ code: 'conflict', exitCode: 5, message: expect.stringContaining(`${join(dest, 'config.json')} and 1 other file are not aim's`) });
    await expectUnchanged(dest, before);
  });

  it('--force replaces them, and leaves the files the version does not name', async () => {
    const dest = freshDest();
    await mkdir(dest);
    await writeFile(join(dest, 'config.json'), '{"mine": true}\n');
    await writeFile(join(dest, 'notes.txt'), 'not in the version');
    await ws.json(['pull', 'r/m:v1', dest, '--force']);
    expect(await readFile(join(dest, 'notes.txt'), 'utf8')).toBe('not in the version');
    expect(await listFiles(dest)).toEqual(['config.json', 'notes.txt', 'sub/tokenizer.json', 'weights.bin']);
    expect(await readFile(join(dest, 'config.json'))).toEqual(await readFile(ws.path('v1', 'config.json')));
  });

  it('refuses an edit of a file a pull installed, for the same version and the next', async () => {
    const dest = freshDest();
    await ws.json(['pull', 'r/m:v1', dest]);
    await appendFile(join(dest, 'config.json'), ' edited');
    const before = await snapshot(dest);
    expectRefused(await ws.run(['pull', 'r/m:v2', dest]), join(dest, 'config.json'), 0);
    expectRefused(await ws.run(['pull', 'r/m:v1', dest]), join(dest, 'config.json'), 0);
    await expectUnchanged(dest, before);
    // verify finds the edit, and its hint is the pull that replaces it.
    const verified = await ws.run(['verify', dest]);
    expect(verified.code).toBe(4);
    expect(verified.stderr).toMatch(/hint: pull the version into it again with --force/);
    await ws.json(['pull', 'r/m:v1', dest, '--force']);
    expect(await ws.json(['verify', dest])).toMatchObject({ ok: true });
  });

  it('refuses an edit that puts the size and mtime back (the ctime still moved)', async () => {
    const dest = freshDest();
    await ws.json(['pull', 'r/m:v1', dest]);
    const target = join(dest, 'sub', 'tokenizer.json');
    const recorded = JSON.parse(await readFile(join(dest, '.aim', 'state.json'), 'utf8')).files['sub/tokenizer.json'];
    // touch -r copies the times to the nanosecond, which Node's utimes cannot.
    execFileSync('touch', ['-r', target, ws.path('times-of-tokenizer')]);
    const bytes = await readFile(target);
    bytes[0] = bytes[0]! ^ 0xff;
    await writeFile(target, bytes);
    execFileSync('touch', ['-r', ws.path('times-of-tokenizer'), target]);
    const info = await stat(target);
    expect({ size: info.size, mtimeMs: info.mtimeMs, ino: info.ino }).toEqual({ size: recorded.size, mtimeMs: recorded.mtimeMs, ino: recorded.ino });
    expect(info.ctimeMs).not.toBe(recorded.ctimeMs);

    // v2 keeps the tokenizer: the pull would otherwise take the edited file for the one it installed.
    expectRefused(await ws.run(['pull', 'r/m:v2', dest]), target, 0);
    expect(await readFile(target)).toEqual(bytes);
  });

  it('updates an untouched older version, and one whose files only moved in time (touched, copied)', async () => {
    const dest = freshDest();
    await ws.json(['pull', 'r/m:v1', dest]);
    await writeFile(join(dest, 'notes.txt'), 'mine');
    const updated = await ws.json(['pull', 'r/m:v2', dest]);
    expect(updated).toMatchObject({ digest: v2, filesUnchanged: 1 });
    expect(await readFile(join(dest, 'notes.txt'), 'utf8')).toBe('mine');

    const copied = freshDest();
    await ws.json(['pull', 'r/m:v1', copied]);
    await utimes(join(copied, 'config.json'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    // A copy of the whole folder: every file has another inode, the bytes aim wrote.
    await cp(copied, `${copied}-copy`, { recursive: true });
    for (const folder of [copied, `${copied}-copy`]) {
      await ws.json(['pull', 'r/m:v2', folder]);
      await expectSameTree(folder, ws.path('v2'));
    }
  });

  it('takes files with the right bytes as in place: copied in by hand, or renamed before a killed pull wrote its state', async () => {
    const dest = freshDest();
    await cp(ws.path('v1'), dest, { recursive: true });
    const pulled = await ws.json(['pull', 'r/m:v1', dest]);
    expect(pulled).toMatchObject({ filesUnchanged: 3, bytesTransferred: 0 });
  });

  it('refuses a folder holding anything where a file goes; replaces an empty one', async () => {
    const full = freshDest();
    await mkdir(join(full, 'config.json', 'mine'), { recursive: true });
    await writeFile(join(full, 'config.json', 'mine', 'notes.txt'), 'keep me');
    const before = await snapshot(full);
    expectRefused(await ws.run(['pull', 'r/m:v1', full]), `${join(full, 'config.json')} (a folder holding files)`, 0);
    await expectUnchanged(full, before);
    // Forced, the folder goes whole.
    await ws.json(['pull', 'r/m:v1', full, '--force']);
    await expectSameTree(full, ws.path('v1'));

    const empty = freshDest();
    await mkdir(join(empty, 'config.json'), { recursive: true });
    await mkdir(join(empty, 'sub', 'tokenizer.json'), { recursive: true });
    await ws.json(['pull', 'r/m:v1', empty]);
    await expectSameTree(empty, ws.path('v1'));
  });

  it('replaces a link (never what it points at) and a FIFO: neither holds data of its own', async () => {
    const dest = freshDest();
    await mkdir(dest);
    await writeFile(ws.path('linked.json'), 'the user\'s real file');
    await symlink(ws.path('linked.json'), join(dest, 'config.json'));
    execFileSync('mkfifo', [join(dest, 'weights.bin')]);
    await ws.json(['pull', 'r/m:v1', dest]);
    await expectSameTree(dest, ws.path('v1'));
    expect((await lstat(join(dest, 'config.json'))).isFile()).toBe(true);
    expect(await readFile(ws.path('linked.json'), 'utf8')).toBe('the user\'s real file');
  });

  it('aim install repairs its own copy in AIM_HOME, edited or not', async () => {
    const installed = await ws.json(['install', 'r/m:v1']);
    const folder: string = installed.pull.dest;
    await appendFile(join(folder, 'config.json'), ' edited');
    await ws.json(['install', 'r/m:v1']);
    await expectSameTree(folder, ws.path('v1'));
  });
});

describe('a file put at a target while the pull fetches', () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    await generateModel(ws.path('big'), { files: [{ path: 'config.json', size: 300 }, { path: 'weights.bin', size: 4 * 1024 * KiB }], seed: 'keeps-big' });
    await ws.json(['push', 'r/big:v1', 'big']);
    // Its small file sits in a top-level folder the destination lacks.
    await generateModel(ws.path('tree'), { files: [{ path: 'cfg/config.json', size: 300 }, { path: 'weights.bin', size: 4 * 1024 * KiB }], seed: 'keeps-tree' });
    await ws.json(['push', 'r/tree:v1', 'tree']);
    // v2 of big changes config.json.
    await cp(ws.path('big'), ws.path('big2'), { recursive: true });
    await writeFile(ws.path('big2', 'config.json'), '{"v": 2}\n');
    await ws.json(['push', 'r/big:v2', 'big2']);
  });

  /** Pulls `ref` into `dest`, runs `meanwhile` once its files are built, before its last look at DEST, then lets it go on. */
  const pullWith = (ref: string, dest: string, meanwhile: () => Promise<void>, ...flags: string[]): Promise<CliResult> =>
    pullChangedAt(ws, 'AIM_TEST_PAUSE_BEFORE_LAST_LOOK', [ref, dest, '--concurrency', '1', ...flags], meanwhile);
  afterAll(() => ws.cleanup());

  it('is refused once the files are built, kept, and the pull run again reuses what was built', async () => {
    const dest = ws.path('dest');
    await mkdir(dest);
    // Paused once its files are built in .aim/partial; the user's config.json appears; the pull goes on.
    const result = await pullWith('r/big:v1', dest, () => writeFile(join(dest, 'config.json'), 'mine, written during the pull'));
    expectRefused(result, join(dest, 'config.json'), 0);
    expect(await readFile(join(dest, 'config.json'), 'utf8')).toBe('mine, written during the pull');
    expect(await listFiles(dest)).toEqual(['config.json']);

    await rm(join(dest, 'config.json'));
    const again = await ws.json(['pull', 'r/big:v1', dest]);
    expect(again.bytesTransferred).toBeLessThan(1024 * KiB);
    await expectSameTree(dest, ws.path('big'));
  });

  it('is refused when the user edits, during an update, a file the update replaces', async () => {
    const dest = ws.path('dest-update');
    await ws.json(['pull', 'r/big:v1', dest]);
    // v1's config.json, aim's when the update planned, edited by the user while v2's files are built.
    const result = await pullWith('r/big:v2', dest, () => appendFile(join(dest, 'config.json'), 'my edit'));
    expectRefused(result, join(dest, 'config.json'), 0);
    expect(await readFile(join(dest, 'config.json'), 'utf8')).toMatch(/my edit$/);
  });

  it('is refused in a top-level folder the destination lacked and the user made meanwhile', async () => {
    const dest = ws.path('dest-tree');
    await mkdir(dest);
    const result = await pullWith('r/tree:v1', dest, async () => {
      await mkdir(join(dest, 'cfg'));
      await writeFile(join(dest, 'cfg', 'config.json'), 'mine, written during the pull');
    });
    expectRefused(result, join(dest, 'cfg', 'config.json'), 0);
    expect(await readFile(join(dest, 'cfg', 'config.json'), 'utf8')).toBe('mine, written during the pull');
  });

  it.each([
    ['a file', (at: string) => writeFile(at, 'mine, written during the pull')],
    ['a symlink', (at: string) => symlink(ws.path('elsewhere'), at)],
  ])('is refused where the version has a folder: %s made meanwhile, nothing written through it', async (kind, make) => {
    const dest = ws.path(`dest-blocked-${kind.replace(' ', '-')}`);
    await mkdir(dest);
    await mkdir(ws.path('elsewhere'), { recursive: true });
    const result = await pullWith('r/tree:v1', dest, () => make(join(dest, 'cfg')));
    expectRefused(result, `${join(dest, 'cfg')} (${kind} where the version has a folder)`, 0);
    expect(await readdir(ws.path('elsewhere'))).toEqual([]);
    expect((await lstat(join(dest, 'cfg'))).isDirectory()).toBe(false);
  });

  it('with --force, stops with a plain storage error at a link made meanwhile where a folder goes, nothing written through it', async () => {
    const dest = ws.path('dest-blocked-forced');
    await mkdir(dest);
    await mkdir(ws.path('elsewhere-forced'));
    const result = await pullWith('r/tree:v1', dest, () => symlink(ws.path('elsewhere-forced'), join(dest, 'cfg')), '--force');
    expect(result.code, result.stderr).toBe(6);
    expectUserError(result, /cfg is a symlink, not a folder/);
    expect(await readdir(ws.path('elsewhere-forced'))).toEqual([]);
  });
});

describe('an update killed while it renames files into place', () => {
  let ws: Workspace;
  const FILES = 2000;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    for (const version of ['v1', 'v2']) {
      await mkdir(ws.path(version));
      for (let i = 0; i < FILES; i++) await writeFile(ws.path(version, `f${i}.txt`), `${version} file ${i}\n`);
      await ws.json(['push', `r/many:${version}`, version]);
    }
  });
  afterAll(() => ws.cleanup());

  it('resumes: the files already renamed have the right bytes, the rest are still v1\'s', async () => {
    const dest = ws.path('dest');
    await ws.json(['pull', 'r/many:v1', dest]);
    const trash = join(dest, '.aim', 'trash');
    // Each file v2 replaces gets a second name in the trash just before its rename: 50 there, the renames are under way.
    await killWhen(ws.start(['pull', 'r/many:v2', dest]), async () => (await readdir(trash).catch(() => [])).length >= 50);
    const state = JSON.parse(await readFile(join(dest, '.aim', 'state.json'), 'utf8'));
    const v2 = (await ws.json(['inspect', 'r/many:v2'])).digest;
    expect(state.manifest, 'the state was written: the kill came too late').not.toBe(v2);
    const texts = await Promise.all(Array.from({ length: FILES }, (_, i) => readFile(join(dest, `f${i}.txt`), 'utf8')));
    const renamed = texts.filter((text) => text.startsWith('v2')).length;
    expect(renamed).toBeGreaterThan(0);

    const resumed = await ws.json(['pull', 'r/many:v2', dest]);
    expect(resumed.filesUnchanged).toBeGreaterThanOrEqual(renamed);
    await expectSameTree(dest, ws.path('v2'));
  });
});
