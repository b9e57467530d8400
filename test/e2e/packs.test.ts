// A repository that gathers chunks into packs (format 2: the default on S3, `packs: true` here on a local folder so
// the files can be damaged by hand): what is stored, a damaged chunk inside a pack found, refused and repaired, and
// an index file lost or unreadable, recovered from the packs' own footers. All through the built CLI.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
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

  it('an unreadable index file does not stop a version with a location map from pulling, nor a push', async () => {
    const before = await indexFiles();
    const [only] = before;
    await writeFile(join(repoDir(), 'index', only!.name), '{"packs": ');
    // A machine without a copy of the index (a new AIM_HOME) reads the version's map, not the damaged file.
    await ws.json(['pull', 'r/m:v1', 'index-out'], { env: { AIM_HOME: ws.path('new-home') } });
    await expectSameTree(ws.path('index-out'), ws.path('model'));
    const pushed = await ws.json(['push', 'r/m:v1', 'model', '--rehash'], { env: { AIM_HOME: ws.path('new-home') } });
    expect(pushed.bytesTransferred).toBe(0); // learned from v1's map
    await writeFile(join(repoDir(), 'index', only!.name), JSON.stringify(only!.index));
  });

  it('a damaged chunk inside a pack: verify names it, pull refuses, --repair forgets it and a push stores it again', async () => {
    const manifest = (await ws.json(['inspect', 'r/m:v1'])).manifest;
    const chunk: string = manifest.files.find((f: { path: string }) => f.path === 'weights.bin').chunks[5].digest;
    const where = (await locate(chunk))!;
    const pack = await readFile(where.path);
    pack[where.offset + 100] = pack[where.offset + 100]! ^ 0x01;
    await writeFile(where.path, pack);

    const verified = await ws.run(['verify', 'r', '--json']);
    expectUserError(verified, /1 missing or corrupt object in r/);
    expect(verified.json().problems).toEqual([expect.objectContaining({ kind: 'corrupt', digest: chunk })]);
    const pulled = await ws.run(['pull', 'r/m:v1', 'damaged-out']);
    expectUserError(pulled, new RegExp(`chunk ${chunk} .*corrupt`));
    expect(await listFiles(ws.path('damaged-out'))).toEqual([]);

    const repaired = await ws.run(['verify', 'r', '--repair', '--json']);
    expectUserError(repaired, /1 missing or corrupt object in r/);
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

  it('pushes only add index files: none is ever rewritten or deleted by a push, and every version pulls', async () => {
    await ws.json(['repo', 'create', 'many', '--type', 'local', '--path', ws.path('many'), '--packs']);
    const indexBytes = async (): Promise<Map<string, string>> => {
      const names = await readdir(ws.path('many', 'index'));
      return new Map(await Promise.all(names.map(async (name) => [name, await readFile(ws.path('many', 'index', name), 'utf8')] as const)));
    };
    let seen = new Map<string, string>();
    for (let version = 1; version <= 18; version++) {
      await mkdir(ws.path('versions', `v${version}`), { recursive: true });
      await writeFile(ws.path('versions', `v${version}`, 'weights.bin'), randomBytes(64 * 1024));
      await ws.json(['push', `many/m:v${version}`, ws.path('versions', `v${version}`)]);
      const now = await indexBytes();
      expect(now.size).toBe(version);
      for (const [name, bytes] of seen) expect(now.get(name), name).toBe(bytes);
      seen = now;
    }
    for (const version of [1, 9, 17, 18]) {
      await ws.json(['pull', `many/m:v${version}`, `many-out-${version}`]);
      await expectSameTree(ws.path(`many-out-${version}`), ws.path('versions', `v${version}`));
    }
    expect((await ws.json(['verify', 'many'])).ok).toBe(true);
  });
});
