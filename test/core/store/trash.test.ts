import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyTrashInBackground, Trash, trashFolder } from '../../../src/core/store/trash.js';
import { pollUntil } from '../../../src/lib/poll.js';

/** One file given a second name in DEST's trash, by a trash used for that alone. */
async function moveAside(dest: string, file: string): Promise<boolean> {
  const trash = new Trash(dest);
  try {
    return await trash.moveAside(file);
  } finally {
    await trash.close();
  }
}

describe('trash for files an update replaces', () => {
  let dest: string;
  beforeAll(async () => {
    dest = await mkdtemp(join(tmpdir(), 'aim-trash-'));
  });
  afterAll(() => rm(dest, { recursive: true, force: true }));

  it('gives a file a second name, so replacing it frees nothing, and deletes the trash in a detached process', async () => {
    const file = join(dest, 'model.bin');
    await writeFile(file, 'old weights');
    expect(await moveAside(dest, file)).toBe(true);
    expect((await stat(file)).nlink).toBe(2);
    const [kept] = await readdir(trashFolder(dest));
    expect(await readFile(join(trashFolder(dest), kept!), 'utf8')).toBe('old weights');
    expect(await moveAside(dest, join(dest, 'absent.bin'))).toBe(false);

    await emptyTrashInBackground(dest);
    for (let waited = 0; existsSync(trashFolder(dest)) && waited < 60_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(existsSync(trashFolder(dest))).toBe(false);
    expect(await readFile(file, 'utf8')).toBe('old weights');
  });

  it('keeps moving into the trash it checked first: DEST/.aim/trash swapped for a link meanwhile takes nothing', async () => {
    const held = await mkdtemp(join(tmpdir(), 'aim-trash-held-'));
    const decoy = await mkdtemp(join(tmpdir(), 'aim-trash-decoy-'));
    const trash = new Trash(held);
    try {
      for (const name of ['a.bin', 'b.bin', 'c']) await writeFile(join(held, name), name);
      expect(await trash.moveAside(join(held, 'a.bin'))).toBe(true);
      await rename(trashFolder(held), join(held, 'trash-moved'));
      await symlink(decoy, trashFolder(held));
      expect(await trash.moveAside(join(held, 'b.bin'))).toBe(true);
      await trash.moveFolderAside(join(held, 'c'));
      expect(await readdir(decoy)).toEqual([]);
      expect((await readdir(join(held, 'trash-moved'))).length).toBe(3);
    } finally {
      await trash.close();
      await rm(held, { recursive: true, force: true });
      await rm(decoy, { recursive: true, force: true });
    }
  });

  it('deletes only the trash it checked: DEST/.aim swapped for a link before the detached process runs takes nothing elsewhere', async () => {
    const swapped = await mkdtemp(join(tmpdir(), 'aim-trash-swap-'));
    const decoy = await mkdtemp(join(tmpdir(), 'aim-trash-decoy-'));
    try {
      const file = join(swapped, 'model.bin');
      await writeFile(file, 'old weights');
      expect(await moveAside(swapped, file)).toBe(true);
      await mkdir(join(decoy, 'trash'));
      await writeFile(join(decoy, 'trash', 'precious'), 'not aim\'s');
      await emptyTrashInBackground(swapped);
      // The detached process is still starting (a whole Node): .aim is moved aside and a link to the decoy put there.
      await rename(join(swapped, '.aim'), join(swapped, 'aim-moved'));
      await symlink(decoy, join(swapped, '.aim'));
      // It empties the folder it was given, wherever that is now.
      await pollUntil(async () => ((await readdir(join(swapped, 'aim-moved', 'trash'))).length === 0 ? { done: true, value: undefined } : { done: false }), {
        intervalMs: 20,
        timeoutMs: 60_000,
        onTimeout: () => new Error('the trash aim filled was never emptied'),
      });
      expect(await readFile(join(decoy, 'trash', 'precious'), 'utf8')).toBe('not aim\'s');
      expect(await readFile(file, 'utf8')).toBe('old weights');
    } finally {
      await rm(swapped, { recursive: true, force: true });
      await rm(decoy, { recursive: true, force: true });
    }
  });
});
