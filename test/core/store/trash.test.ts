import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyTrashInBackground, moveAside, trashFolder } from '../../../src/core/store/trash.js';

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
});
