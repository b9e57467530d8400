// A folder of the version that DEST lacks is built whole in `.aim/fresh` and renamed into DEST once its files are
// verified and synced (src/core/transfer/pull-fresh.ts). Through the real CLI: a folder DEST gets during the pull, a
// hostile `.aim/fresh` left in DEST, an update adding a folder, a big file and copies inside a new folder. Each case
// fails if a byte, a mode, a record or a file outside DEST is lost.
import { chmod, copyFile, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRandomFile } from '../../../fixtures/generate-model.js';
import { createWorkspace, expectSameTree, listFiles, treeDigests, type Workspace } from '../../helpers/cli.js';
import { expectRecordsMatch } from '../../helpers/install-records.js';

const MiB = 1024 * 1024;

async function writeTree(folder: string, count: number, seed: string): Promise<void> {
  for (let i = 0; i < count; i++) await writeRandomFile(join(folder, `t${i % 4}`, `s${i % 3}`, `f${i}.bin`), i % 25 === 0 ? 0 : 50 + ((i * 131) % 3000), `${seed}:${i}`);
}

/** 123 files: four folders of small files (empty ones, a copy, one executable), a 9 MiB file in one, one at the top. */
async function writeModel(folder: string, topSeed: string): Promise<void> {
  await writeTree(folder, 120, 'fresh');
  await copyFile(join(folder, 't1', 's1', 'f1.bin'), join(folder, 't2', 'copy.bin'));
  await chmod(join(folder, 't3', 's0', 'f3.bin'), 0o755);
  await writeRandomFile(join(folder, 't0', 'weights.bin'), 9 * MiB, 'fresh:big');
  await writeRandomFile(join(folder, 'top.json'), 300, topSeed);
}

/**
 * A `sync` ahead of the real one on PATH that, when the pull calls it (every file written, none renamed yet), runs
 * `script` in DEST first: what another process might do to DEST during the pull.
 */
async function syncDoing(folder: string, script: string): Promise<NodeJS.ProcessEnv> {
  await mkdir(folder, { recursive: true });
  // The pull hands over the folder it holds open as descriptor 3 (lib/held-folder.ts): its path, as the kernel knows it.
  const lines = ['#!/bin/sh', 'folder=$2; [ "$2" = /proc/self/fd/3 ] && folder=$(readlink /proc/self/fd/3)', 'dest=$(dirname "$(dirname "$folder")")', `(cd "$dest" && ${script})`, `PATH='${process.env.PATH}' exec sync "$@"`];
  await writeFile(join(folder, 'sync'), `${lines.join('\n')}\n`, { mode: 0o755 });
  return { PATH: `${folder}:${process.env.PATH}` };
}

describe('new folders built whole and renamed into place', () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    const model = ws.path('model');
    await writeModel(model, 'fresh:top');
    await ws.json(['push', 'r/m:v1', model]);
  });
  afterAll(() => ws.cleanup());

  it('pulls folders, copies, a big file inside one, modes and records; nothing is left in .aim/fresh', async () => {
    const dest = ws.path('plain-out');
    const pulled = await ws.json(['pull', 'r/m:v1', dest]);
    expect(pulled.files).toBe(123);
    await expectSameTree(dest, ws.path('model'));
    expect((await stat(join(dest, 't3', 's0', 'f3.bin'))).mode & 0o777).toBe(0o755);
    expect(await listFiles(join(dest, '.aim'), { includeAim: true })).toEqual(['manifest.json', 'state.json']);
    await expectRecordsMatch(dest);
    // A second pull finds every file unchanged.
    expect(await ws.json(['pull', 'r/m:v1', dest])).toMatchObject({ bytesTransferred: 0, filesUnchanged: 123 });
  });

  it('fills file by file a folder DEST got during the pull, keeping what was put there', async () => {
    const dest = ws.path('raced-out');
    const env = await syncDoing(ws.path('sync-raced'), 'mkdir -p t1 && echo mine > t1/mine.txt');
    await ws.json(['pull', 'r/m:v1', dest], { env });
    expect(await readFile(join(dest, 't1', 'mine.txt'), 'utf8')).toBe('mine\n');
    const expected = await treeDigests(ws.path('model'));
    const got = await treeDigests(dest);
    delete got['t1/mine.txt'];
    expect(got).toEqual(expected);
    await expectRecordsMatch(dest);
    expect(await ws.json(['pull', 'r/m:v1', dest])).toMatchObject({ bytesTransferred: 0, filesUnchanged: 123 });
  });

  it('refuses a folder that became a link to the outside during the pull, writing nothing there', async () => {
    const dest = ws.path('linked-out');
    const outside = ws.path('outside-linked');
    await mkdir(outside);
    const env = await syncDoing(ws.path('sync-linked'), `ln -s '${outside}' t2`);
    const result = await ws.run(['pull', 'r/m:v1', dest], { env });
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBe(70);
    expect(await listFiles(outside)).toEqual([]);
  });

  it('steps over a hostile .aim/fresh left in DEST: links to the outside are never followed', async () => {
    const dest = ws.path('hostile-out');
    const outside = ws.path('outside-hostile');
    await mkdir(join(outside, 's0'), { recursive: true });
    await writeFile(join(outside, 's0', 'f0.bin'), 'precious');
    await writeFile(join(outside, 'secret'), 'secret');
    await mkdir(join(dest, '.aim', 'fresh', 't1'), { recursive: true });
    await symlink(outside, join(dest, '.aim', 'fresh', 't0'));
    await symlink(join(outside, 'secret'), join(dest, '.aim', 'fresh', 't1', 'f1.bin'));
    await ws.json(['pull', 'r/m:v1', dest]);
    await expectSameTree(dest, ws.path('model'));
    expect(await readFile(join(outside, 's0', 'f0.bin'), 'utf8')).toBe('precious');
    expect(await readFile(join(outside, 'secret'), 'utf8')).toBe('secret');
    expect(await listFiles(join(dest, '.aim'), { includeAim: true })).toEqual(['manifest.json', 'state.json']);
    await expectRecordsMatch(dest);
  });

  it('removes a .aim/fresh that is a link to a folder elsewhere, never moving or reading what it points at', async () => {
    const dest = ws.path('rootlink-out');
    const outside = ws.path('outside-rootlink');
    // The outside folder holds files at the model's own paths, with other bytes: a pull adopting them would move them.
    await mkdir(join(outside, 't1', 's1'), { recursive: true });
    await writeFile(join(outside, 't1', 's1', 'f1.bin'), 'precious');
    await writeFile(join(outside, 'top.json'), 'precious too');
    await mkdir(join(dest, '.aim'), { recursive: true });
    await symlink(outside, join(dest, '.aim', 'fresh'));
    await ws.json(['pull', 'r/m:v1', dest]);
    await expectSameTree(dest, ws.path('model'));
    expect(await readFile(join(outside, 't1', 's1', 'f1.bin'), 'utf8')).toBe('precious');
    expect(await readFile(join(outside, 'top.json'), 'utf8')).toBe('precious too');
    expect(await listFiles(join(dest, '.aim'), { includeAim: true })).toEqual(['manifest.json', 'state.json']);
  });

  it('an update adds a new folder whole and updates the folders DEST had', async () => {
    const dest = ws.path('update-out');
    await ws.json(['pull', 'r/m:v1', dest]);
    const v2 = ws.path('model-v2');
    await writeModel(v2, 'fresh:top2');
    await writeTree(join(v2, 'added'), 30, 'fresh:added');
    await writeFile(join(v2, 't1', 's2', 'f2.bin'), 'changed');
    await ws.json(['push', 'r/m:v2', v2]);
    const updated = await ws.json(['pull', 'r/m:v2', dest]);
    expect(updated.filesUnchanged).toBeGreaterThan(100);
    await expectSameTree(dest, v2);
    await expectRecordsMatch(dest);
    expect(await ws.json(['pull', 'r/m:v2', dest])).toMatchObject({ bytesTransferred: 0, filesUnchanged: 154 });
  });
});
