// Where a pull may write: inside DEST only, through real folders. `within` (AIM_HOME for `aim run`) extends the
// check from a folder above DEST, so a link planted at AIM_HOME/models cannot carry a pulled version elsewhere.
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../../src/backends/local.js';
import { Repository } from '../../../src/core/store/repository.js';
import { pull } from '../../../src/core/transfer/pull.js';
import { push } from '../../../src/core/transfer/push.js';

const root = await mkdtemp(join(tmpdir(), 'aim-pull-dest-'));
process.env.AIM_HOME = join(root, 'home');
afterAll(() => rm(root, { recursive: true, force: true }));

describe('pull destination', () => {
  let repo: Repository;

  beforeAll(async () => {
    await mkdir(join(root, 'repo'));
    repo = new Repository('r', new LocalBackend(join(root, 'repo')));
    await mkdir(join(root, 'model'));
    await writeFile(join(root, 'model', 'w.bin'), Buffer.alloc(100_000, 3));
    await push(repo, join(root, 'model'), { model: 'm', tag: 'v1' });
    await mkdir(join(root, 'outside'));
  });

  it('within a folder: refuses a link between it and DEST and writes nothing through it', async () => {
    const home = join(root, 'aim-home');
    await mkdir(home);
    await symlink(join(root, 'outside'), join(home, 'models'));
    const dest = join(home, 'models', 'r', 'm', 'digest');
    await expect(pull(repo, { model: 'm', tag: 'v1' }, dest, { within: home })).rejects.toThrow(/models is a symlink, not a folder/);
    expect(await readdir(join(root, 'outside'))).toEqual([]);
  });

  it('within a folder: makes the real folders down to DEST and pulls', async () => {
    const home = join(root, 'fresh-home');
    const result = await pull(repo, { model: 'm', tag: 'v1' }, join(home, 'models', 'r', 'm', 'digest'), { within: home });
    expect(result.files).toBe(1);
  });

  it('without one, DEST itself may be reached through a link the user made', async () => {
    await mkdir(join(root, 'real-dest'));
    await symlink(join(root, 'real-dest'), join(root, 'dest-link'));
    await pull(repo, { model: 'm', tag: 'v1' }, join(root, 'dest-link'));
    expect(await readdir(join(root, 'real-dest'))).toContain('w.bin');
  });
});
