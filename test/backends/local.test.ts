import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ObjectInfo } from '../../src/backends/backend.js';
import { LocalBackend } from '../../src/backends/local.js';
import { NotFoundError } from '../../src/lib/errors.js';
import { runBackendConformance } from './conformance.js';

runBackendConformance('local', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'aim-local-'));
  return { backend: new LocalBackend(folder), cleanup: () => rm(folder, { recursive: true, force: true }) };
});

describe('local folder: deferred sync', () => {
  it('syncs what it wrote unsynced, and names a key that is missing', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'aim-local-'));
    try {
      const backend = new LocalBackend(folder);
      const bytes = randomBytes(200 * 1024);
      expect(await backend.putIfAbsentUnsynced('packs/ab/one', bytes)).toBe(true);
      expect(await backend.putIfAbsentUnsynced('packs/ab/one', randomBytes(10))).toBe(false);
      await backend.sync(['packs/ab/one']);
      expect((await backend.get('packs/ab/one')).equals(bytes)).toBe(true);
      const missing = backend.sync(['packs/ab/one', 'packs/cd/gone']);
      await expect(missing).rejects.toBeInstanceOf(NotFoundError);
      await expect(missing).rejects.toThrow('packs/cd/gone');
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});

// A repository folder others can write: a link planted on the way to a key, or at a key, must never carry a read,
// write or delete outside the folder, and a FIFO at a key must be refused at once instead of blocking.
describe('local folder: planted links and special files', () => {
  const run = promisify(execFile);
  let root: string;
  let repo: string;
  let outside: string;
  let backend: LocalBackend;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'aim-local-hostile-'));
    repo = join(root, 'repo');
    outside = join(root, 'outside');
    await mkdir(join(repo, 'models'), { recursive: true });
    await mkdir(join(outside, 'tags'), { recursive: true });
    await writeFile(join(outside, 'tags', 'v1'), 'outside tag');
    backend = new LocalBackend(repo);
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('refuses every operation on a key whose folder is a link, and touches nothing outside', async () => {
    await symlink(outside, join(repo, 'models', 'm'));
    const key = 'models/m/tags/v1';
    await expect(backend.get(key)).rejects.toThrow(/models\/m is a symlink, not a folder/);
    await expect(backend.getRange(key, 0, 4)).rejects.toThrow(/is a symlink/);
    await expect(backend.stat(key)).rejects.toThrow(/is a symlink/);
    await expect(backend.put(key, Buffer.from('new'))).rejects.toThrow(/is a symlink/);
    await expect(backend.putIfAbsent('models/m/tags/v2', Buffer.from('new'))).rejects.toThrow(/is a symlink/);
    await expect(backend.delete(key)).rejects.toThrow(/is a symlink/);
    await expect(collect(backend.list('models/m/'))).rejects.toThrow(/is a symlink/);
    expect(await readFile(join(outside, 'tags', 'v1'), 'utf8')).toBe('outside tag');
    expect(await readdir(join(outside, 'tags'))).toEqual(['v1']);
  });

  it('refuses a link or a FIFO at a key; delete removes the planted name, never what it points at', async () => {
    await mkdir(join(repo, 'models', 'm', 'tags'), { recursive: true });
    await symlink(join(outside, 'tags', 'v1'), join(repo, 'models', 'm', 'tags', 'linked'));
    await run('mkfifo', [join(repo, 'models', 'm', 'tags', 'fifo')]);
    await expect(backend.get('models/m/tags/linked')).rejects.toThrow(/linked is a symlink, not a regular file/);
    await expect(backend.get('models/m/tags/fifo')).rejects.toThrow(/fifo is a FIFO, not a regular file/);
    await expect(backend.stat('models/m/tags/fifo')).rejects.toThrow(/not a regular file/);
    await expect(backend.putIfAbsent('models/m/tags/linked', Buffer.from('x'))).rejects.toThrow(/is a symlink/);
    expect(await collect(backend.list('models/'))).toEqual([]); // neither is listed as an object
    await backend.delete('models/m/tags/linked');
    expect(await readFile(join(outside, 'tags', 'v1'), 'utf8')).toBe('outside tag');
  });

  it('names a key too long for the file system in a plain error', async () => {
    await expect(backend.put(`models/${'m'.repeat(300)}/tags/v1`, Buffer.from('x'))).rejects.toThrow(/file name too long/);
  });
});

async function collect(items: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const all: ObjectInfo[] = [];
  for await (const item of items) all.push(item);
  return all;
}

// Keys are built from validated names; a `..` or empty segment from a damaged name must not join to a path outside.
describe('local folder: keys that would climb out', () => {
  it.each(['../secret', 'a/../../secret', './index.json', 'a//b', '/secret', 'models/..'])('refuses %j for every operation, touching nothing outside', async (key) => {
    const parent = await mkdtemp(join(tmpdir(), 'aim-local-'));
    try {
      const folder = join(parent, 'repo');
      await mkdir(folder);
      await writeFile(join(parent, 'secret'), 'outside');
      const backend = new LocalBackend(folder);
      await expect(backend.get(key)).rejects.toThrow(/is not a key inside/);
      await expect(backend.stat(key)).rejects.toThrow(/is not a key inside/);
      await expect(backend.put(key, Buffer.from('x'))).rejects.toThrow(/is not a key inside/);
      await expect(backend.delete(key)).rejects.toThrow(/is not a key inside/);
      expect(await readFile(join(parent, 'secret'), 'utf8')).toBe('outside');
      expect(await readdir(parent)).toEqual(['repo', 'secret']);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });
});
