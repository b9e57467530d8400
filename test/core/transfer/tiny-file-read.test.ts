import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cutChunks } from '../../../src/core/chunking/chunk-reader.js';
import { Chunker, DEFAULT_CHUNKING } from '../../../src/core/chunking/chunker.js';
import { nativeBlake3 } from '../../../src/core/hashing/blake3-native.js';
import { readTinyFiles, TINY_FILE, type TinyReadJob } from '../../../src/core/transfer/tiny-file-read.js';

const root = await mkdtemp(join(tmpdir(), 'aim-tiny-read-'));
afterAll(() => rm(root, { recursive: true, force: true }));

const chunker = new Chunker(DEFAULT_CHUNKING);
const blake3 = nativeBlake3()!;

async function file(name: string, bytes: Buffer): Promise<[string, number]> {
  await writeFile(join(root, name), bytes);
  return [join(root, name), bytes.length];
}

/** 64 KiB of random bytes that the head's chunker (16 KiB minimum) cuts in two or more: about one draw in six. */
function twoChunks(): Buffer {
  for (let tries = 0; tries < 500; tries++) {
    const bytes = randomBytes(TINY_FILE);
    if ([...cutChunks(bytes, chunker)].length > 1) return bytes;
  }
  throw new Error('no draw of random bytes was cut in two');
}

/** The memory a job reads into, filled with a pattern so that a read landing in the wrong place shows. */
const memoryOf = (size: number): Uint8Array => new Uint8Array(new SharedArrayBuffer(size)).fill(0xee);

describe('readTinyFiles (what a tiny-file reader thread does with a batch)', () => {
  it('lands each file after the one before and gives the cuts and digests the usual read gives', async () => {
    const contents = [twoChunks(), Buffer.alloc(0), randomBytes(1), randomBytes(40_000), Buffer.alloc(TINY_FILE, 7)];
    const files = await Promise.all(contents.map((bytes, index) => file(`f${index}`, bytes)));
    const memory = memoryOf(64 + contents.length * (TINY_FILE + 1));
    const reply = readTinyFiles(memory, { at: 64, room: memory.length - 64, files }, chunker, blake3);

    expect(reply.files.every(Boolean)).toBe(true);
    expect(reply.used).toBe(contents.reduce((sum, bytes) => sum + bytes.length, 0));
    let multiChunk = 0;
    for (const [index, bytes] of contents.entries()) {
      const read = reply.files[index]!;
      expect(Buffer.from(memory.subarray(64 + read.start, 64 + read.start + bytes.length))).toEqual(bytes);
      const cuts = [...cutChunks(bytes, chunker)];
      expect(read.sizes).toEqual(cuts.map((cut) => cut.length));
      expect(read.hexes).toEqual(cuts.map((cut) => blake3.hex(cut)));
      // The file's digest travels apart only when it is not its one chunk's (an empty file has none).
      expect(read.fileHex).toBe(cuts.length === 1 ? undefined : blake3.hex(bytes));
      if (cuts.length > 1) multiChunk++;
    }
    // twoChunks() for sure; the 40,000 random bytes are cut in two too, now and then.
    expect(multiChunk).toBeGreaterThanOrEqual(1);
  });

  it('passes over files not as the walk saw them (gone, a link, a FIFO, grown, shrunk) without blocking, and reads the rest', async () => {
    const outside = await file('outside', Buffer.alloc(100, 9));
    const job: TinyReadJob = { at: 0, room: 20 * (TINY_FILE + 1), files: [] };
    const kept = await file('kept-1', Buffer.alloc(100, 1));
    const gone = await file('gone', Buffer.alloc(100, 2));
    await rm(gone[0]);
    const link = join(root, 'link');
    await symlink(outside[0], link);
    const fifo = join(root, 'fifo');
    execFileSync('mkfifo', [fifo]); // no writer: a blocking open would wait for ever
    const grown = await file('grown', Buffer.alloc(100, 3));
    await appendFile(grown[0], Buffer.alloc(1, 3));
    const grownPast = await file('grown-past-tiny', Buffer.alloc(100, 4));
    await appendFile(grownPast[0], Buffer.alloc(TINY_FILE, 4));
    const shrunk = await file('shrunk', Buffer.alloc(100, 5));
    await truncate(shrunk[0], 50);
    const last = await file('kept-2', Buffer.alloc(200, 6));
    job.files = [kept, gone, [link, 100], [fifo, 100], grown, grownPast, shrunk, last];

    const memory = memoryOf(job.room);
    const reply = readTinyFiles(memory, job, chunker, blake3);
    expect(reply.files.map((read) => read !== null)).toEqual([true, false, false, false, false, false, false, true]);
    // A file passed over takes no room: the next one lands right after the last one read.
    expect(reply.files[7]!.start).toBe(100);
    expect(reply.used).toBe(300);
    expect(Buffer.from(memory.subarray(100, 300))).toEqual(Buffer.alloc(200, 6));
  });

  it('passes over a file that does not fit what is left of the room, and still reads a smaller one after it', async () => {
    const first = await file('fit-1', Buffer.alloc(1000, 1));
    const big = await file('too-big', Buffer.alloc(5000, 2));
    const small = await file('fit-2', Buffer.alloc(10, 3));
    const memory = memoryOf(3000);
    const reply = readTinyFiles(memory, { at: 0, room: 3000, files: [first, big, small] }, chunker, blake3);
    expect(reply.files.map((read) => read !== null)).toEqual([true, false, true]);
    expect(reply.used).toBe(1010);
    expect(memory[1010]).toBe(0xee); // nothing written past the bytes read
  });
});
