// The stat cache lets a push skip reading files that did not change. "Did not change" must not be fooled by an
// edit that keeps the size and puts the mtime back (touch -r, rsync -t, some editors): the ctime moves on every
// write and cannot be set back, so the cache compares it too. Through the real CLI, with a real file edited in place.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, open, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../../fixtures/generate-model.js';
import { createWorkspace, expectSameTree, type Workspace } from '../../helpers/cli.js';

const run = promisify(execFile);

describe('stat cache', () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    await generateModel(ws.path('model'), { files: [{ path: 'weights.bin', size: 3 * 1024 * 1024 }, { path: 'config.json', size: 200 }], seed: 'stat-cache' });
  });
  afterAll(() => ws.cleanup());

  it('pushes the new bytes of a same-size edit whose mtime was put back', async () => {
    const first = await ws.json(['push', 'r/m:v1', 'model']);
    const weights = ws.path('model', 'weights.bin');
    const before = await stat(weights);

    // Same size, same inode, and the times put back to the nanosecond with touch -r, as sync tools do.
    await run('touch', ['-r', weights, ws.path('times')]);
    const handle = await open(weights, 'r+');
    await handle.write(Buffer.alloc(64 * 1024, 0x5a), 0, 64 * 1024, 1024 * 1024);
    await handle.close();
    await run('touch', ['-r', ws.path('times'), weights]);
    const after = await stat(weights);
    expect([after.size, after.ino, after.mtimeMs]).toEqual([before.size, before.ino, before.mtimeMs]);

    const second = await ws.json(['push', 'r/m:v2', 'model']);
    expect(second.digest, 'the edit makes another version').not.toBe(first.digest);
    await ws.json(['pull', 'r/m:v2', 'out']);
    await expectSameTree(ws.path('out'), ws.path('model'));
    expect((await readFile(ws.path('out', 'weights.bin'))).subarray(1024 * 1024, 1024 * 1024 + 4)).toEqual(Buffer.alloc(4, 0x5a));
  });

  it('trusts an entry whose size, times and inode all match, and not one recorded without a ctime', async () => {
    // What the cache says is marked (a file digest nobody computed), so the pushed manifest shows whether it was used.
    const folder = ws.path('aim-home', 'cache', 'stat');
    const [name] = await readdir(folder);
    const cacheFile = join(folder, name!);
    const entries = JSON.parse(await readFile(cacheFile, 'utf8'));
    const entry = entries[ws.path('model', 'weights.bin')];
    expect(entry.ctimeMs).toBe((await stat(ws.path('model', 'weights.bin'))).ctimeMs);
    const marker = `blake3:${'ab'.repeat(32)}`;
    const real = entry.file.digest;
    entry.file.digest = marker;
    await writeFile(cacheFile, JSON.stringify(entries));
    expect(await weightsDigest('v3')).toBe(marker);

    delete entry.ctimeMs; // as written before ctime was recorded
    await writeFile(cacheFile, JSON.stringify(entries));
    expect(await weightsDigest('v4')).toBe(real);
  });

  it('does not carry what was pushed to a repository deleted and created again at the same place', async () => {
    const own = await createWorkspace((dir) => ({ again: { type: 'local', path: `${dir}/repo` } }));
    try {
      await generateModel(own.path('a'), { files: [{ path: 'w.bin', size: 300 * 1024 }], seed: 'stat-cache-again' });
      await own.json(['push', 'again/m:v1', 'a']);
      // The cache's word for a/w.bin is marked, so the push below shows whether it was taken.
      const folder = own.path('aim-home', 'cache', 'stat');
      const [name] = await readdir(folder);
      const entries = JSON.parse(await readFile(join(folder, name!), 'utf8'));
      entries[own.path('a', 'w.bin')].file.digest = `blake3:${'ab'.repeat(32)}`;
      await writeFile(join(folder, name!), JSON.stringify(entries));

      // A new repository at the same path, holding the same bytes under another folder's name.
      await rm(own.path('repo'), { recursive: true });
      await mkdir(own.path('repo'));
      await mkdir(own.path('b'));
      await copyFile(own.path('a', 'w.bin'), own.path('b', 'w.bin'));
      await own.json(['push', 'again/m:b', 'b']);
      await own.json(['push', 'again/m:a', 'a']);

      const inspected = await own.json(['inspect', 'again/m:a']);
      expect(inspected.files[0].digest).toBe((await own.json(['inspect', 'again/m:b'])).files[0].digest);
      const left = await readdir(folder);
      expect(left, 'the earlier repository\'s cache file is gone').not.toContain(name);
      expect(left, 'one file for each folder pushed to the new repository').toHaveLength(2);
    } finally {
      await own.cleanup();
    }
  });

  it('keeps a cache file for each folder pushed: a push reads the entries of its own files only', async () => {
    const own = await createWorkspace((dir) => ({ per: { type: 'local', path: `${dir}/repo` } }));
    try {
      await generateModel(own.path('a'), { files: [{ path: 'w.bin', size: 300 * 1024 }], seed: 'stat-cache-a' });
      await generateModel(own.path('b'), { files: [{ path: 'x.bin', size: 200 * 1024 }, { path: 'y.json', size: 100 }], seed: 'stat-cache-b' });
      await own.json(['push', 'per/a:v1', 'a']);
      const folder = own.path('aim-home', 'cache', 'stat');
      const [aName] = await readdir(folder);
      await own.json(['push', 'per/b:v1', 'b']);
      const bName = (await readdir(folder)).find((name) => name !== aName)!;
      const keys = async (name: string) => Object.keys(JSON.parse(await readFile(join(folder, name), 'utf8'))).sort();
      expect(await keys(aName!)).toEqual([own.path('a', 'w.bin')]);
      expect(await keys(bName)).toEqual([own.path('b', 'x.bin'), own.path('b', 'y.json')]);

      // a's entry, marked, is still taken after b's push saved its own file: one push leaves the others' files alone.
      const entries = JSON.parse(await readFile(join(folder, aName!), 'utf8'));
      const marker = `blake3:${'cd'.repeat(32)}`;
      entries[own.path('a', 'w.bin')].file.digest = marker;
      await writeFile(join(folder, aName!), JSON.stringify(entries));
      await own.json(['push', 'per/b:v2', 'b']);
      await own.json(['push', 'per/a:v2', 'a']);
      expect((await own.json(['inspect', 'per/a:v2'])).files[0].digest).toBe(marker);
    } finally {
      await own.cleanup();
    }
  });

  it('removes the one cache file of every folder that older versions of aim kept, and reads nothing from it', async () => {
    const own = await createWorkspace((dir) => ({ old: { type: 'local', path: `${dir}/repo` } }));
    try {
      await generateModel(own.path('a'), { files: [{ path: 'w.bin', size: 300 * 1024 }], seed: 'stat-cache-old' });
      await own.json(['push', 'old/a:v1', 'a']);
      const folder = own.path('aim-home', 'cache', 'stat');
      const [name] = await readdir(folder);
      const [location, creation] = name!.split('.');
      // The older name for all of this repository's entries, with a's entry marked: it must not be taken.
      const entries = JSON.parse(await readFile(join(folder, name!), 'utf8'));
      entries[own.path('a', 'w.bin')].file.digest = `blake3:${'ef'.repeat(32)}`;
      const legacy = `${location}.${creation}.json`;
      await rm(join(folder, name!));
      await writeFile(join(folder, legacy), JSON.stringify(entries));
      await own.json(['push', 'old/a:v2', 'a']);
      expect((await own.json(['inspect', 'old/a:v2'])).files[0].digest).toBe((await own.json(['inspect', 'old/a:v1'])).files[0].digest);
      expect(await readdir(folder)).toEqual([name]);
    } finally {
      await own.cleanup();
    }
  });

  it('removes no file through a link planted at AIM_HOME/cache/stat, though its name is one of an older cache', async () => {
    const own = await createWorkspace((dir) => ({ lk: { type: 'local', path: `${dir}/repo` } }));
    try {
      await generateModel(own.path('a'), { files: [{ path: 'w.bin', size: 300 * 1024 }], seed: 'stat-cache-link-a' });
      await generateModel(own.path('b'), { files: [{ path: 'x.bin', size: 300 * 1024 }], seed: 'stat-cache-link-b' });
      await own.json(['push', 'lk/a:v1', 'a']);
      const folder = own.path('aim-home', 'cache', 'stat');
      const [name] = await readdir(folder);
      const [location] = name!.split('.');
      // The cache folder moved elsewhere and linked back; there, a file named as this repository's older caches are.
      await rename(folder, own.path('elsewhere'));
      await writeFile(own.path('elsewhere', `${location}.someone.json`), 'not a cache of aim');
      await symlink(own.path('elsewhere'), folder);
      await own.json(['push', 'lk/b:v1', 'b']);
      expect((await readdir(own.path('elsewhere'))).sort()).toEqual([name, `${location}.someone.json`].sort());
      expect(await readFile(own.path('elsewhere', `${location}.someone.json`), 'utf8')).toBe('not a cache of aim');
    } finally {
      await own.cleanup();
    }
  });

  /** Pushes the model as `tag` and returns the digest its manifest gives weights.bin. */
  async function weightsDigest(tag: string): Promise<string> {
    await ws.json(['push', `r/m:${tag}`, 'model']);
    const inspected = await ws.json(['inspect', `r/m:${tag}`]);
    return inspected.files.find((file: { path: string }) => file.path === 'weights.bin').digest;
  }
});
