// A repository that gathers chunks into packs (format 2: the default on S3, `packs: true` here on a local folder so
// the files can be damaged by hand): what is stored, a damaged chunk inside a pack found, refused and repaired, and
// an index file lost or unreadable, recovered from the packs' own footers. All through the built CLI.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { createWorkspace, expectSameTree, expectUserError, listFiles, type Workspace } from '../helpers/cli.js';

const MiB = 1024 * 1024;

interface IndexFile {
  format: number;
  packs: Record<string, Array<[string, number, number]>>;
}

describe('a repository with packs (local folder)', () => {
  let ws: Workspace;
  const repoDir = () => ws.path('repo');
  const indexFiles = async (): Promise<Array<{ name: string; index: IndexFile }>> => {
    const names = await readdir(join(repoDir(), 'index')).catch(() => [] as string[]);
    return Promise.all(names.map(async (name) => ({ name, index: JSON.parse(await readFile(join(repoDir(), 'index', name), 'utf8')) as IndexFile })));
  };
  /** Where the index says a chunk is: its pack file and byte offset. */
  const locate = async (digest: string): Promise<{ path: string; offset: number } | undefined> => {
    for (const { index } of await indexFiles()) {
      for (const [pack, entries] of Object.entries(index.packs)) {
        const entry = entries.find(([d]) => d === digest);
        if (entry) return { path: join(repoDir(), 'packs', pack.slice(0, 2), pack), offset: entry[1] };
      }
    }
    return undefined;
  };

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo`, packs: true } }));
    await generateModel(ws.path('model'), {
      files: [{ path: 'weights.bin', size: 40 * MiB }, { path: 'small.bin', size: 300_000 }, { path: 'config.json', size: 200 }],
      seed: 'packs',
    });
    await ws.json(['push', 'r/m:v1', 'model']);
  });
  afterAll(() => ws.cleanup());

  it('stores chunks in ~16 MiB packs named by one index file, with no loose chunk objects', async () => {
    const files = await listFiles(repoDir());
    expect(files.some((file) => file.startsWith('blobs/'))).toBe(false);
    const packs = files.filter((file) => file.startsWith('packs/'));
    expect(packs.length).toBe(3); // 40.3 MiB in packs of at most 16 MiB
    const [only, ...others] = await indexFiles();
    expect(others).toEqual([]);
    expect(Object.keys(only!.index.packs).sort()).toEqual(packs.map((file) => file.split('/')[2]).sort());
    expect(JSON.parse(await readFile(join(repoDir(), 'aim-repo.json'), 'utf8')).format).toBe(2);
    await ws.json(['pull', 'r/m:v1', 'out']);
    await expectSameTree(ws.path('out'), ws.path('model'));
  });

  it('an unreadable index file is named with a fix; once deleted, the next push indexes its packs from their footers', async () => {
    const before = await indexFiles();
    const biggest = before.reduce((a, b) => (Object.keys(a.index.packs).length >= Object.keys(b.index.packs).length ? a : b));
    await writeFile(join(repoDir(), 'index', biggest.name), '{"packs": ');
    // A machine that has pulled before reads its own copy of the index file; a new one (an AIM_HOME without that
    // copy) reads the damaged file and says what to do.
    const broken = await ws.run(['pull', 'r/m:v1', 'index-out'], { env: { AIM_HOME: ws.path('new-home') } });
    expectUserError(broken, new RegExp(`corrupt index file at index/${biggest.name} in .*: not valid JSON`));
    expect(broken.stderr).toMatch(/hint: delete that file, then push any version to this repository: the push indexes its packs again/);

    await rm(join(repoDir(), 'index', biggest.name));
    const pushed = await ws.json(['push', 'r/m:v1', 'model', '--rehash']);
    expect(pushed.bytesTransferred).toBe(0);
    const after = await indexFiles();
    expect(after.length).toBe(before.length); // the lost file's packs, named again by the push's own index file
    await ws.json(['pull', 'r/m:v1', 'index-out']);
    await expectSameTree(ws.path('index-out'), ws.path('model'));
    expect((await ws.json(['verify', 'r'])).ok).toBe(true);
  });

  it('a damaged chunk inside a pack: verify names it, pull refuses, --repair forgets it and a push stores it again', async () => {
    const manifest = (await ws.json(['inspect', 'r/m:v1'])).manifest;
    const chunk: string = manifest.files.find((f: { path: string }) => f.path === 'weights.bin').chunks[5].digest;
    const where = (await locate(chunk))!;
    const pack = await readFile(where.path);
    pack[where.offset + 100] = pack[where.offset + 100]! ^ 0x01;
    await writeFile(where.path, pack);

    const verified = await ws.run(['verify', 'r', '--json']);
    expectUserError(verified, /1 missing or corrupt objects in r/);
    expect(verified.json().problems).toEqual([expect.objectContaining({ kind: 'corrupt', digest: chunk })]);
    const pulled = await ws.run(['pull', 'r/m:v1', 'damaged-out']);
    expectUserError(pulled, new RegExp(`chunk ${chunk} .*corrupt`));
    expect(await listFiles(ws.path('damaged-out'))).toEqual([]);

    const repaired = await ws.run(['verify', 'r', '--repair', '--json']);
    expectUserError(repaired, /1 missing or corrupt objects in r/);
    expect(await locate(chunk)).toBeUndefined();
    const pushed = await ws.json(['push', 'r/m:v1', 'model']);
    expect(pushed.tagOutcome).toBe('unchanged');
    expect(pushed.bytesTransferred).toBe(manifest.files.find((f: { path: string }) => f.path === 'weights.bin').chunks[5].size);
    expect((await ws.json(['verify', 'r'])).ok).toBe(true);
    await ws.json(['pull', 'r/m:v1', 'damaged-out']);
    await expectSameTree(ws.path('damaged-out'), ws.path('model'));
  });

  it('repo create --packs makes a local folder that packs, --no-packs one that keeps a file per chunk', async () => {
    const created = await ws.json(['repo', 'create', 'nfs', '--type', 'local', '--path', ws.path('nfs'), '--packs']);
    expect(created.packs).toBe(true);
    await ws.json(['repo', 'create', 'plain', '--type', 'local', '--path', ws.path('plain'), '--no-packs']);
    await ws.json(['push', 'nfs/m:v1', 'model']);
    await ws.json(['push', 'plain/m:v1', 'model']);
    expect(JSON.parse(await readFile(ws.path('nfs', 'aim-repo.json'), 'utf8')).format).toBe(2);
    expect(JSON.parse(await readFile(ws.path('plain', 'aim-repo.json'), 'utf8')).format).toBe(1);
    expect((await listFiles(ws.path('nfs'))).some((file) => file.startsWith('packs/'))).toBe(true);
    expect((await listFiles(ws.path('plain'))).some((file) => file.startsWith('blobs/'))).toBe(true);
  });

  it('a push that finds 16 index files merges them into one, not while a repair is under way; every version pulls', async () => {
    await ws.json(['repo', 'create', 'many', '--type', 'local', '--path', ws.path('many'), '--packs']);
    const indexCount = async () => (await readdir(ws.path('many', 'index'))).length;
    const pushVersion = async (version: number) => {
      await mkdir(ws.path('versions', `v${version}`), { recursive: true });
      await writeFile(ws.path('versions', `v${version}`, 'weights.bin'), randomBytes(64 * 1024));
      await ws.json(['push', `many/m:v${version}`, ws.path('versions', `v${version}`)]);
    };
    for (let version = 1; version <= 16; version++) {
      await pushVersion(version);
      expect(await indexCount()).toBe(version);
    }
    // The mark `verify --repair` writes before it drops chunks: a merge now could name them again.
    await writeFile(ws.path('many', 'removals'), `started ${new Date().toISOString()} 0f0e\n`);
    await pushVersion(17);
    expect(await indexCount()).toBe(17);
    await writeFile(ws.path('many', 'removals'), `${new Date().toISOString()} 0f0f\n`); // the repair finished
    await pushVersion(18);
    expect(await indexCount()).toBe(1);
    for (const version of [1, 9, 17, 18]) {
      await ws.json(['pull', `many/m:v${version}`, `many-out-${version}`]);
      await expectSameTree(ws.path(`many-out-${version}`), ws.path('versions', `v${version}`));
    }
    // Pushes and pulls keep a copy of the index files under AIM_HOME; a pull after the merge dropped the merged ones.
    const caches = await readdir(join(ws.home, 'cache', 'index')); // one per repository of this workspace
    const cached = await Promise.all(caches.map((folder) => readdir(join(ws.home, 'cache', 'index', folder))));
    expect(cached).toContainEqual(await readdir(ws.path('many', 'index')));
    expect((await ws.json(['verify', 'many'])).ok).toBe(true);
  });
});
