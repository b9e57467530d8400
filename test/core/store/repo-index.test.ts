import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../../src/backends/local.js';
import { readCatalog } from '../../../src/core/catalog/read-catalog.js';
import type { CatalogIndex } from '../../../src/core/format/schemas/catalog.js';
import { deleteModel, deleteVersion } from '../../../src/core/store/delete.js';
import { rebuildIndex, updateIndex } from '../../../src/core/store/repo-index.js';
import { Repository } from '../../../src/core/store/repository.js';
import { push } from '../../../src/core/transfer/push.js';
import { silentProgress } from '../../../src/core/progress.js';

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

const readIndex = async (root: string) => JSON.parse(await readFile(join(root, 'repo', 'index.json'), 'utf8')) as CatalogIndex;

describe('index.json and the catalog entries', () => {
  it('follows pushes and deletes, and is rebuilt from the tags', async () => {
    const { root, repo } = await workspace();
    await writeFile(join(root, 'src', 'a.bin'), 'one');
    const first = await push(repo, join(root, 'src'), { model: 'm', tag: 'v1', annotations: { description: 'first' } });
    await writeFile(join(root, 'src', 'a.bin'), 'two');
    const second = await push(repo, join(root, 'src'), { model: 'm', tag: 'v2', annotations: { description: 'second' } });
    await push(repo, join(root, 'src'), { model: 'other', tag: 'v1' });

    let index = await readIndex(root);
    expect(Object.keys(index.models).sort()).toEqual(['m', 'other']);
    expect(index.models.m!.tags.v1!.digest).toBe(first.digest);
    expect(index.models.m!.latest.digest).toBe(second.digest);
    expect(index.models.m!.description).toBe('second');

    await deleteVersion(repo, 'm', 'v2');
    index = await readIndex(root);
    expect(Object.keys(index.models.m!.tags).sort()).toEqual(['latest', 'v1']);
    expect(index.models.m!.latest.digest).toBe(first.digest);
    expect(index.models.m!.description, 'the entry describes the version latest now names').toBe('first');

    await deleteModel(repo, 'other');
    expect(Object.keys((await readIndex(root)).models)).toEqual(['m']);
    await writeFile(join(root, 'repo', 'index.json'), 'garbage');
    const rebuilt = await rebuildIndex(repo);
    expect(rebuilt).toMatchObject({ models: 1, removed: [], problems: [] });
    expect((await readIndex(root)).models.m!.tags.v1!.digest).toBe(first.digest);
  });

  it('keeps every model when writers update index.json at once', async () => {
    const { root, repo } = await workspace();
    await writeFile(join(root, 'src', 'a.bin'), 'one');
    await push(repo, join(root, 'src'), { model: 'seed', tag: 'v1' });
    const entry = (await readCatalog(repo)).models[0]!;
    const names = Array.from({ length: 12 }, (_, i) => `model-${i}`);
    // Separate handles, as separate processes have: each reads, changes and writes index.json on its own.
    await Promise.all(
      names.map((name) => updateIndex(new Repository('r', new LocalBackend(join(root, 'repo'))), (index) => {
        index.models[name] = { ...entry, model: name };
      })),
    );
    expect(Object.keys((await readIndex(root)).models).filter((name) => name.startsWith('model-')).sort()).toEqual([...names].sort());
  });

  it('finds a model whose roll-up was lost, and drops one whose entry was deleted', async () => {
    const { root, repo } = await workspace();
    await writeFile(join(root, 'src', 'a.bin'), 'one');
    await push(repo, join(root, 'src'), { model: 'kept', tag: 'v1' });
    const before = await readFile(join(root, 'repo', 'index.json'));
    await push(repo, join(root, 'src'), { model: 'late', tag: 'v1' });
    await writeFile(join(root, 'repo', 'index.json'), before); // as if the second push's roll-up was lost
    expect((await readCatalog(repo)).models.map((m) => m.model)).toEqual(['kept', 'late']);
    await rm(join(root, 'repo', 'catalog', 'kept.json'));
    expect((await readCatalog(repo)).models.map((m) => m.model)).toEqual(['late']);
  });

  it('is rebuilt whole by the first push that finds it unusable while other models exist (a repository of an older aim)', async () => {
    const { root, repo } = await workspace();
    await writeFile(join(root, 'src', 'a.bin'), 'one');
    await push(repo, join(root, 'src'), { model: 'old1', tag: 'v1' });
    await push(repo, join(root, 'src'), { model: 'old2', tag: 'v1' });
    await rm(join(root, 'repo', 'catalog'), { recursive: true });
    await writeFile(join(root, 'repo', 'index.json'), JSON.stringify({ format: 1, updatedAt: new Date().toISOString(), models: {} }));
    const notes: string[] = [];
    await push(repo, join(root, 'src'), { model: 'new', tag: 'v1', progress: { ...silentProgress, note: (line) => notes.push(line) } });
    expect(Object.keys((await readIndex(root)).models).sort()).toEqual(['new', 'old1', 'old2']);
    expect((await readCatalog(repo)).models.map((m) => m.model)).toEqual(['new', 'old1', 'old2']);
    expect(notes.join('\n')).toMatch(/index\.json of r was missing or unreadable: rebuilt from the tags \(3 models\)/);
  });

  it('takes over a lock left by a killed writer (old or unreadable) and releases its own', async () => {
    const { root, repo } = await workspace();
    await writeFile(join(root, 'src', 'a.bin'), 'one');
    for (const [model, lock] of [['a', `${new Date(Date.now() - 60_000).toISOString()} killed-writer\n`], ['b', '\u0000garbage']] as const) {
      await writeFile(join(root, 'repo', 'index.json.lock'), lock);
      await push(repo, join(root, 'src'), { model, tag: 'v1' });
      expect(Object.keys((await readIndex(root)).models)).toContain(model);
      await expect(readFile(join(root, 'repo', 'index.json.lock'))).rejects.toMatchObject({ code: 'ENOENT' });
    }
  });
});
