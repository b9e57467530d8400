// The last step of a pull (src/core/transfer/pull-install.ts) renames verified partials into DEST's folders. The pull
// looked at those folders when it planned (install-state.ts's Targets), seconds or minutes before: a folder that became
// a link since then (DEST's listing changed during the pull) must be refused, not written through, or a file would be
// renamed outside DEST. Real files, real links, the function the pull calls.
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Digest } from '../../../src/core/format/digest.js';
import type { ManifestFile } from '../../../src/core/format/manifest.js';
import type { InstallState } from '../../../src/core/transfer/install-state.js';
import { copyInstalled, installStaged, type Staged } from '../../../src/core/transfer/pull-install.js';
import { SmallFileWriter } from '../../../src/core/transfer/small-file-writer.js';
import { HELD_AT_ONCE } from '../../../src/core/transfer/target-folders.js';

const file = (path: string): ManifestFile => ({ path, size: 5, mode: 0o644, digest: `blake3:${'ab'.repeat(32)}` as Digest, chunks: [] });

describe('renaming partials into place', () => {
  let root: string;
  let dest: string;
  let outside: string;
  let writer: SmallFileWriter;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'aim-install-'));
    dest = join(root, 'dest');
    outside = join(root, 'outside');
    await mkdir(join(dest, '.aim', 'partial'), { recursive: true });
    await mkdir(outside);
    writer = SmallFileWriter.create();
  });
  afterEach(async () => {
    await writer.close();
    await rm(root, { recursive: true, force: true });
  });

  /** A partial staged for DEST/<path>, as the plan made it when DEST/<path>'s folder did not exist yet. */
  async function staged(path: string, how: Pick<Staged, 'modeSet' | 'journal'>): Promise<Staged> {
    const temp = join(dest, '.aim', 'partial', path.replaceAll('/', '_'));
    await writeFile(temp, 'bytes', { mode: 0o644 });
    return { temp, target: join(dest, ...path.split('/')), file: file(path), ...how };
  }

  for (const [name, how] of [
    ['renamed by the writer', { modeSet: true, journal: false }],
    ['renamed on the main thread', { modeSet: false, journal: false }],
  ] as const) {
    it(`refuses a folder that became a link after the plan (${name})`, async () => {
      const entries = [await staged('sub/deeper/w.bin', how), await staged('other/c.json', how)];
      // The plan saw no DEST/sub; a link to a folder outside appears before the renames.
      await symlink(outside, join(dest, 'sub'));
      await mkdir(join(outside, 'deeper'));
      const next: InstallState = { version: 1, files: {} };
      await expect(installStaged(dest, entries, next, writer)).rejects.toThrow(/sub is a symlink, not a folder/);
      expect(await readdir(join(outside, 'deeper')), 'nothing is renamed through the link').toEqual([]);
      expect(next.files['sub/deeper/w.bin']).toBeUndefined();
    });
  }

  it('makes missing folders and renames into them', async () => {
    const entries = [await staged('a/b/w.bin', { modeSet: true, journal: false }), await staged('c/x.json', { modeSet: false, journal: false })];
    const next: InstallState = { version: 1, files: {} };
    await installStaged(dest, entries, next, writer);
    expect(await readdir(join(dest, 'a', 'b'))).toEqual(['w.bin']);
    expect(await readdir(join(dest, 'c'))).toEqual(['x.json']);
    expect(Object.keys(next.files).sort()).toEqual(['a/b/w.bin', 'c/x.json']);
  });

  it('puts files into more folders than it holds at once, and lets go of every folder it held', async () => {
    const openBefore = (await readdir('/proc/self/fd')).length;
    const entries: Staged[] = [];
    for (let index = 0; index < HELD_AT_ONCE + 40; index++) entries.push(await staged(`f${index}/x.json`, { modeSet: index % 2 === 0, journal: false }));
    const next: InstallState = { version: 1, files: {} };
    await installStaged(dest, entries, next, writer);
    expect(Object.keys(next.files)).toHaveLength(entries.length);
    expect(await readFile(join(dest, `f${HELD_AT_ONCE + 39}`, 'x.json'), 'utf8')).toBe('bytes');
    expect((await readdir('/proc/self/fd')).length).toBe(openBefore);
  });

  describe('copies of a content another file of the version shares', () => {
    /** The first file of the content, put in place and recorded, as installStaged leaves it before copying. */
    async function placedFirst(): Promise<{ first: Staged; next: InstallState }> {
      const first = await staged('a/first.bin', { modeSet: true, journal: false });
      const next: InstallState = { version: 1, files: {} };
      await installStaged(dest, [first], next, writer);
      return { first, next };
    }

    it('copies the file the pull put in place', async () => {
      const { first, next } = await placedFirst();
      await copyInstalled(first, first.target, next, join(dest, '.aim', 'partial', 'copy'));
      expect(await readFile(join(dest, '.aim', 'partial', 'copy'), 'utf8')).toBe('bytes');
    });

    it('never copies through a link that took the first file\'s name since', async () => {
      const { first, next } = await placedFirst();
      await writeFile(join(outside, 'secret'), 'outside bytes');
      await rm(first.target);
      await symlink(join(outside, 'secret'), first.target);
      await expect(copyInstalled(first, first.target, next, join(dest, '.aim', 'partial', 'copy'))).rejects.toThrow(/symlink/);
      expect(await readdir(join(dest, '.aim', 'partial'))).not.toContain('copy');
    });

    it('refuses a file that replaced the first one since (another inode)', async () => {
      const { first, next } = await placedFirst();
      await writeFile(join(root, 'other'), 'other bytes');
      await rename(join(root, 'other'), first.target);
      expect((await stat(first.target)).ino).not.toBe(next.files['a/first.bin']!.ino);
      await expect(copyInstalled(first, first.target, next, join(dest, '.aim', 'partial', 'copy'))).rejects.toThrow(/changed while the pull was putting files in place/);
      expect(await readdir(join(dest, '.aim', 'partial'))).not.toContain('copy');
    });
  });
});
