import { execFileSync } from 'node:child_process';
import { appendFile, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readChunks } from '../../../src/core/chunking/chunk-reader.js';
import { Chunker, DEFAULT_CHUNKING } from '../../../src/core/chunking/chunker.js';
import { FilePrefetch, PREFETCH_MAX_FILE } from '../../../src/core/transfer/prefetch.js';
import type { SourceFile } from '../../../src/core/transfer/walk.js';

const root = await mkdtemp(join(tmpdir(), 'aim-prefetch-'));
afterAll(() => rm(root, { recursive: true, force: true }));

async function sourceFile(name: string, bytes: Buffer): Promise<SourceFile> {
  const absolute = join(root, name);
  await writeFile(absolute, bytes);
  return { path: name, absolute, size: bytes.length, mode: 0o644, mtimeMs: 0, ctimeMs: 0, ino: 0 };
}

describe('FilePrefetch', () => {
  it('hands each wanted small file its own bytes, in any order of sizes, and leaves big, unwanted and vanished files to the usual read', async () => {
    const files: SourceFile[] = [];
    for (let i = 0; i < 40; i++) files.push(await sourceFile(`f${i}`, Buffer.alloc(1000 + i, i)));
    files.push(await sourceFile('big', Buffer.alloc(PREFETCH_MAX_FILE + 1, 1)));
    files.push(await sourceFile('skipped', Buffer.alloc(10, 2)));
    const gone = await sourceFile('gone', Buffer.alloc(10, 3));
    files.push(gone);
    // The stat cache's answer may come later (whether a manifest is still there): a promise.
    const prefetch = new FilePrefetch(files, (file) => (file.path === 'f3' ? Promise.resolve(true) : file.path !== 'skipped'));
    const first = prefetch.take(0); // starts reading ahead, before the file goes away
    await rm(gone.absolute);

    expect(await first).toEqual(Buffer.alloc(1000, 0));
    for (let i = 1; i < 40; i++) expect(await prefetch.take(i)).toEqual(Buffer.alloc(1000 + i, i));
    expect(await prefetch.take(40)).toBeUndefined(); // too big: streamed as it is pushed
    expect(await prefetch.take(41)).toBeUndefined(); // not wanted (the stat cache vouches for it)
    expect(await prefetch.take(42)).toBeUndefined(); // unreadable: the usual read says why
  });

  it('reads tiny files (on the main thread) and larger small ones alike, and passes over a FIFO swapped in without blocking', async () => {
    const tiny = await sourceFile('tiny', Buffer.alloc(64 * 1024, 5));
    const larger = await sourceFile('larger', Buffer.alloc(64 * 1024 + 1, 6));
    const swapped = await sourceFile('swapped', Buffer.alloc(100, 7));
    await rm(swapped.absolute);
    execFileSync('mkfifo', [swapped.absolute]); // no writer: a blocking open for reading would wait for ever
    const prefetch = new FilePrefetch([tiny, larger, swapped], () => true);

    expect(await prefetch.take(0)).toEqual(Buffer.alloc(64 * 1024, 5));
    expect(await prefetch.take(1)).toEqual(Buffer.alloc(64 * 1024 + 1, 6));
    expect(await prefetch.take(2)).toBeUndefined(); // the usual read refuses it with its own message
  });

  it('passes over files swapped for links, or grown past what is read ahead, since the walk', async () => {
    const outside = join(root, 'outside-secret');
    await writeFile(outside, Buffer.alloc(100, 9));
    const tinyLink = await sourceFile('tiny-link', Buffer.alloc(100, 7));
    const smallLink = await sourceFile('small-link', Buffer.alloc(128 * 1024, 7));
    for (const file of [tinyLink, smallLink]) {
      await rm(file.absolute);
      await symlink(outside, file.absolute);
    }
    const grownTiny = await sourceFile('grown-tiny', Buffer.alloc(100, 8));
    const grownSmall = await sourceFile('grown-small', Buffer.alloc(128 * 1024, 8));
    await appendFile(grownTiny.absolute, Buffer.alloc(128 * 1024, 8));
    await appendFile(grownSmall.absolute, Buffer.alloc(PREFETCH_MAX_FILE, 8));
    const prefetch = new FilePrefetch([tinyLink, smallLink, grownTiny, grownSmall], () => true);
    for (let i = 0; i < 4; i++) expect(await prefetch.take(i)).toBeUndefined();
  });
});

describe('readChunks (the usual read of a file being pushed)', () => {
  it('refuses a link or a FIFO at the name, without blocking', async () => {
    const chunker = new Chunker(DEFAULT_CHUNKING);
    await writeFile(join(root, 'real'), Buffer.alloc(1000, 1));
    await symlink(join(root, 'real'), join(root, 'link'));
    execFileSync('mkfifo', [join(root, 'fifo')]);
    const all = async (path: string) => {
      const chunks = [];
      for await (const chunk of readChunks(path, chunker)) chunks.push(chunk);
      return chunks;
    };
    expect(Buffer.concat(await all(join(root, 'real')))).toEqual(Buffer.alloc(1000, 1));
    await expect(all(join(root, 'link'))).rejects.toThrow(/symlink/);
    await expect(all(join(root, 'fifo'))).rejects.toThrow(/FIFO/);
  });
});
