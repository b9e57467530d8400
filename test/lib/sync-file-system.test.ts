import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncFoldersTogether } from '../../src/lib/sync-file-system.js';

// A pull renames files into many folders, and a folder of DEST may be the mount point of another file system: one
// `sync --file-system` per file system the folders lie on, never one for the first folder's only. A `sync` ahead of
// the real one on PATH notes each folder it is given, then runs the real one.

const root = await mkdtemp(join(tmpdir(), 'aim-syncfs-'));
const tools = join(root, 'tools');
const log = join(tools, 'calls');
// A second file system beside the temporary folder's: /dev/shm is a tmpfs on Linux machines and containers.
const otherFileSystem = await stat('/dev/shm').then(async (info) => (info.dev !== (await stat(root)).dev ? '/dev/shm' : undefined), () => undefined);
let elsewhere: string | undefined;
const savedPath = process.env.PATH;

beforeAll(async () => {
  await mkdir(tools);
  const script = ['#!/bin/sh', `echo "$2" >> '${log}'`, `PATH='${savedPath}' exec sync "$@"`].join('\n');
  await writeFile(join(tools, 'sync'), `${script}\n`, { mode: 0o755 });
  process.env.PATH = `${tools}:${savedPath}`;
  if (otherFileSystem) elsewhere = await mkdtemp(join(otherFileSystem, 'aim-syncfs-'));
});

afterAll(async () => {
  process.env.PATH = savedPath;
  await rm(root, { recursive: true, force: true });
  if (elsewhere) await rm(elsewhere, { recursive: true, force: true });
});

async function folders(parent: string, count: number, prefix: string): Promise<string[]> {
  const made = Array.from({ length: count }, (_, i) => join(parent, `${prefix}${i}`));
  for (const folder of made) await mkdir(folder, { recursive: true });
  return made;
}

const calls = async (): Promise<string[]> => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean);

describe('syncFoldersTogether', () => {
  it('syncs each folder on its own when there are few (no sync of a whole file system)', async () => {
    await rm(log, { force: true });
    await syncFoldersTogether(new Set(await folders(root, 16, 'few')));
    expect(await calls()).toEqual([]);
  });

  it('syncs a file system once for many folders on it', async () => {
    await rm(log, { force: true });
    await syncFoldersTogether(new Set(await folders(root, 17, 'many')));
    const synced = await calls();
    expect(synced).toHaveLength(1);
    expect((await stat(synced[0]!)).dev).toBe((await stat(root)).dev);
  });

  it.runIf(otherFileSystem !== undefined)('syncs every file system the folders lie on, once each', async () => {
    await rm(log, { force: true });
    const onDisk = await folders(root, 17, 'mixed');
    const onOther = await folders(elsewhere!, 3, 'other');
    await syncFoldersTogether(new Set([...onDisk, ...onOther]));
    const devices = await Promise.all((await calls()).map(async (folder) => (await stat(folder)).dev));
    expect(devices.sort()).toEqual([(await stat(root)).dev, (await stat(elsewhere!)).dev].sort());
  });
});
