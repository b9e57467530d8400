// The push's tiny-file reader (src/core/transfer/tiny-file-reader.ts) as built: its worker thread runs only from
// dist/, so the module is loaded from there.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Chunker, DEFAULT_CHUNKING } from '../../../src/core/chunking/chunker.js';
import type * as Reader from '../../../src/core/transfer/tiny-file-reader.js';
import type { SourceFile } from '../../../src/core/transfer/walk.js';
import { builtModule } from '../../helpers/without-proc.js';

const { TinyFileReader, MANY_TINY_FILES } = (await import(builtModule('core/transfer/tiny-file-reader.js'))) as typeof Reader;
const root = await mkdtemp(join(tmpdir(), 'aim-tiny-reader-'));
afterAll(() => rm(root, { recursive: true, force: true }));

async function sourceFile(name: string, text: string): Promise<SourceFile> {
  const absolute = join(root, name);
  await writeFile(absolute, text);
  return { path: name, absolute, size: Buffer.byteLength(text), mode: 0o644, mtimeMs: 0, ctimeMs: 0, ino: 0 };
}

describe('TinyFileReader', () => {
  it('reads a batch on its thread, and once closed reads none (no thread started for a batch still on its way)', async () => {
    const file = await sourceFile('a.txt', 'tiny\n');
    const open = TinyFileReader.create(new Chunker(DEFAULT_CHUNKING), MANY_TINY_FILES)!;
    const [read] = await open.read([file]);
    expect(read?.bytes.toString()).toBe('tiny\n');
    await open.close();

    // Closed before its first batch, as a push that failed early closes it while a batch still waits for the stat
    // cache's answer: that batch is left to the usual read.
    const closed = TinyFileReader.create(new Chunker(DEFAULT_CHUNKING), MANY_TINY_FILES)!;
    await closed.close();
    expect(await closed.read([file])).toEqual([undefined]);
  });
});
