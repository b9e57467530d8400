import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../../src/backends/local.js';
import { deleteModel, deleteVersion } from '../../../src/core/store/delete.js';
import { push } from '../../../src/core/transfer/push.js';
import { rebuildIndex, type RepoIndex } from '../../../src/core/store/repo-index.js';
import { Repository } from '../../../src/core/store/repository.js';

const folders: string[] = [];
afterEach(async () => Promise.all(folders.splice(0).map((f) => rm(f, { recursive: true, force: true }))));

async function workspace() {
  const root = await mkdtemp(join(tmpdir(), 'aim-index-'));
  folders.push(root);
  process.env.AIM_HOME = join(root, 'home');
  await mkdir(join(root, 'repo'));
  await mkdir(join(root, 'src'));
  return { root, repo: new Repository('r', new LocalBackend(join(root, 'repo'))) };
}

const readIndex = async (root: string) => JSON.parse(await readFile(join(root, 'repo', 'index.json'), 'utf8')) as RepoIndex;

describe('index.json', () => {
  it('follows pushes and deletes, and is rebuilt from the tags', async () => {
    const { root, repo } = await workspace();
    await writeFile(join(root, 'src', 'a.bin'), 'one');
    const first = await push(repo, join(root, 'src'), { model: 'm', tag: 'v1' });
    await writeFile(join(root, 'src', 'a.bin'), 'two');
    const second = await push(repo, join(root, 'src'), { model: 'm', tag: 'v2' });
    await push(repo, join(root, 'src'), { model: 'other', tag: 'v1' });

    let index = await readIndex(root);
    expect(Object.keys(index.models).sort()).toEqual(['m', 'other']);
    expect(index.models.m!.tags.v1!.digest).toBe(first.digest);
    expect(index.models.m!.tags.latest!.digest).toBe(second.digest);

    await deleteVersion(repo, 'm', 'v2');
    index = await readIndex(root);
    expect(Object.keys(index.models.m!.tags).sort()).toEqual(['latest', 'v1']);
    expect(index.models.m!.tags.latest!.digest).toBe(first.digest);

    await deleteModel(repo, 'other');
    await writeFile(join(root, 'repo', 'index.json'), 'garbage');
    index = await rebuildIndex(repo);
    expect(Object.keys(index.models)).toEqual(['m']);
    expect((await readIndex(root)).models.m!.tags.v1!.digest).toBe(first.digest);
  });
});
