// A folder removed between its open and the check of it (src/lib/held-folder.ts): a command letting go of a lock
// removes the lock's emptied folder (a version folder's .aim, a model's install records' .aim), and another command
// may have just opened it to take the lock. That is a folder gone, which the taker looks at again (makes it anew and
// takes the lock), not one changed under it: a ConflictError there failed an install after its whole pull. Node's
// fs is wrapped so that the check of the fd's path meets the folder removed, which no real timing could hold still.
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HeldFolder } from '../../src/lib/held-folder.js';
import { lockDestination } from '../../src/core/transfer/dest-lock.js';

/** The folder to remove when the check next reads the path of an fd open on it. */
const removal = vi.hoisted(() => ({ folder: undefined as string | undefined }));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const readlinkSync = ((path: string, ...rest: never[]) => {
    if (removal.folder && String(path).startsWith('/proc/self/fd/') && fs.readlinkSync(path) === removal.folder) {
      fs.rmdirSync(removal.folder);
      removal.folder = undefined;
    }
    return fs.readlinkSync(path, ...rest);
  }) as typeof fs.readlinkSync;
  return { ...fs, readlinkSync, default: { ...fs, readlinkSync } };
});

describe('a folder removed as it is opened', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aim-removed-'));
    await mkdir(join(dir, 'installed', 'r', 'm', '.aim'), { recursive: true });
  });
  afterEach(async () => {
    removal.folder = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('is reported gone (ENOENT), not changed', () => {
    removal.folder = join(dir, 'installed', 'r', 'm', '.aim');
    expect(() => HeldFolder.open(dir, ['installed', 'r', 'm', '.aim'])).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(removal.folder, 'the folder was removed at the check').toBeUndefined();
  });

  it('does not keep a command from taking the lock in it: it is made again and the lock taken', async () => {
    removal.folder = join(dir, 'installed', 'r', 'm', '.aim');
    const lock = await lockDestination(dir, ['installed', 'r', 'm', '.aim'], { waitMs: 0 });
    expect(removal.folder, 'the folder was removed at the check').toBeUndefined();
    expect(await readdir(join(dir, 'installed', 'r', 'm', '.aim'))).toEqual(['lock']);
    lock.release();
  });
});
