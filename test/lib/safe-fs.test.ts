// safe-fs against what a shared folder may hold: links, FIFOs, devices, folders where files belong, and files
// that change under the reader. Real files and real FIFOs (mkfifo), no mocks. A FIFO case would hang forever if
// the open blocked, so each one also proves the open does not.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, open, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from '../../src/lib/errors.js';
import { fsError } from '../../src/lib/fs-errors.js';
import { openRegular, readFully, readRegularFile, readRegularFileIfExists, realFolder } from '../../src/lib/safe-fs.js';
import { writeAtomic, writeAtomicIfAbsent } from '../../src/lib/atomic-write.js';

const run = promisify(execFile);

describe('safe-fs', () => {
  let root: string;
  const at = (...parts: string[]) => join(root, ...parts);

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'aim-safe-fs-'));
    await writeFile(at('file'), 'regular bytes');
    await writeFile(at('outside'), 'outside bytes');
    await symlink(at('outside'), at('link'));
    await run('mkfifo', [at('fifo')]);
    await mkdir(at('folder'));
    await symlink('/dev/zero', at('zero'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('opens and reads a regular file', async () => {
    expect((await readRegularFile(at('file'))).toString()).toBe('regular bytes');
    expect(await readRegularFileIfExists(at('missing'))).toBeUndefined();
  });

  it.each([
    ['link', /link is a symlink, not a regular file/],
    ['fifo', /fifo is a FIFO, not a regular file/],
    ['folder', /folder is a folder, not a regular file/],
    ['zero', /zero is a symlink, not a regular file/],
  ])('refuses %s, without blocking and without reading what a link points at', async (name, message) => {
    await expect(readRegularFile(at(name))).rejects.toThrow(message);
    await expect(readRegularFileIfExists(at(name))).rejects.toBeInstanceOf(StorageError);
  });

  it('refuses a FIFO opened for writing with no reader, and a device node', async () => {
    const { constants } = await import('node:fs');
    await expect(openRegular(at('fifo'), constants.O_WRONLY)).rejects.toThrow(/is a FIFO/);
    await expect(openRegular('/dev/zero')).rejects.toThrow(/\/dev\/zero is a device, not a regular file/);
  });

  it('refuses a file larger than its format can need', async () => {
    await expect(readRegularFile(at('file'), 4)).rejects.toThrow(/is 13 bytes, more than the 4/);
  });

  it('readFully fills the target across short reads and stops at the end of the file', async () => {
    const handle = await open(at('file'), 'r');
    try {
      const target = Buffer.alloc(20);
      expect(await readFully(handle, target, 8)).toBe(5);
      expect(target.subarray(0, 5).toString()).toBe('bytes');
      expect(await readFully(handle, Buffer.alloc(7), 0)).toBe(7);
    } finally {
      await handle.close();
    }
  });

  it('realFolder makes real folders and refuses a link or a file on the way', async () => {
    expect(await realFolder(at('made'), ['a', 'b'], { create: true })).toBe(at('made', 'a', 'b'));
    await symlink(at('folder'), at('made', 'a', 'linked'));
    await expect(realFolder(at('made'), ['a', 'linked', 'c'], { create: true })).rejects.toThrow(/linked is a symlink, not a folder/);
    await expect(realFolder(root, ['file', 'x'])).rejects.toThrow(/file is a file, not a folder/);
    // Without create, a missing folder ends the check (nothing below it exists either).
    expect(await realFolder(root, ['nothing', 'here'])).toBe(at('nothing', 'here'));
  });

  it('writeAtomic under a root never writes through a planted folder link', async () => {
    await mkdir(at('home'));
    await mkdir(at('elsewhere'));
    await symlink(at('elsewhere'), at('home', 'cache'));
    await expect(writeAtomic(at('home', 'cache', 'x.json'), '{}', { root: at('home') })).rejects.toThrow(/cache is a symlink/);
    expect(await readRegularFileIfExists(at('elsewhere', 'x.json'))).toBeUndefined();
  });

  it('writeAtomic replaces a link at the final name instead of writing through it', async () => {
    await symlink(at('outside'), at('replace-me'));
    await writeAtomic(at('replace-me'), 'new');
    expect(await readFile(at('outside'), 'utf8')).toBe('outside bytes');
    expect((await readRegularFile(at('replace-me'))).toString()).toBe('new');
  });

  it('writeAtomicIfAbsent refuses a link at the name instead of counting it as the stored file', async () => {
    await symlink(at('outside'), at('absent-key'));
    await expect(writeAtomicIfAbsent(at('absent-key'), Buffer.from('x'))).rejects.toThrow(/absent-key is a symlink/);
    await writeFile(at('present-key'), 'x');
    expect(await writeAtomicIfAbsent(at('present-key'), Buffer.from('x'))).toBe(false);
  });

  it('fsError turns the file system codes a user can act on into plain errors, and leaves others alone', () => {
    const errno = (code: string) => Object.assign(new Error(code), { code, path: '/some/where' });
    expect(String(fsError(errno('EROFS'), { path: '/x' }))).toMatch(/cannot write \/some\/where: the file system is read-only/);
    expect(String(fsError(errno('ENAMETOOLONG'), { path: '/x' }))).toMatch(/file name too long/);
    expect(String(fsError(errno('ENOSPC'), { path: '/x' }))).toMatch(/no space left on device/);
    const odd = errno('EIO');
    expect(fsError(odd, { path: '/x' })).toBe(odd);
  });
});
