import { randomBytes } from 'node:crypto';
import { link, mkdtemp, open, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { allowDirectIo, bufferForDirectWrite, readDirect, VIEW_SLACK, viewForPosition, writeNewFileDirect } from '../../src/lib/direct-io.js';
import { widenableMemories } from '../../src/lib/direct-memory.js';
import { DirectWriter } from '../../src/lib/direct-writer.js';

const root = await mkdtemp(join(tmpdir(), 'aim-direct-'));
afterAll(() => rm(root, { recursive: true, force: true }));
afterEach(() => {
  allowDirectIo(true);
});

/** ext2/3/4, xfs, btrfs, f2fs: where the writer must take the direct path. */
const directFileSystems = new Set([0xef53, 0x58465342, 0x9123683e, 0xf2f52010]);
const tmpTakesDirect = directFileSystems.has((await statfs(root)).type);

/** Cuts [start, size) into ranges of 1 byte to 300 KiB (some inside one 4 KiB block, some across many). */
function cut(start: number, size: number, seed: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31);
  for (let at = start; at < size; ) {
    const length = Math.min(size - at, next() % 3 === 0 ? 1 + (next() % 5000) : 1 + (next() % 300_000));
    ranges.push([at, at + length]);
    at += length;
  }
  // Shuffled, as parallel downloads finish.
  for (let i = ranges.length - 1; i > 0; i--) {
    const j = next() % (i + 1);
    [ranges[i], ranges[j]] = [ranges[j]!, ranges[i]!];
  }
  return ranges;
}

/** Each range as a copy in a view placed for its file offset (as a pull's chunk buffers are), when `placed`. */
function placedCopy(data: Buffer, from: number, to: number): Buffer {
  const view = viewForPosition(bufferForDirectWrite(to - from + VIEW_SLACK), from, to - from);
  data.copy(view, 0, from, to);
  return view;
}

async function writeRanges(path: string, data: Buffer, start: number, seed: number, placed = false): Promise<boolean> {
  const handle = await open(path, start > 0 ? 'r+' : 'w');
  try {
    const writer = await DirectWriter.open(path, handle, data.length, start);
    const bytesOf = (from: number, to: number) => (placed ? placedCopy(data, from, to) : data.subarray(from, to));
    await Promise.all(cut(start, data.length, seed).map(([from, to]) => writer.write(bytesOf(from, to), from)));
    // Still direct after every write: a write the file system refused would have sent the rest the usual way.
    const direct = writer.isDirect;
    await writer.finish();
    await handle.truncate(data.length);
    return direct;
  } finally {
    await handle.close();
  }
}

describe('DirectWriter', () => {
  it('writes ranges in any order, unaligned, into exactly the file they make up', async () => {
    const data = randomBytes(9 * 1024 * 1024 + 777);
    const path = join(root, 'whole.bin');
    const direct = await writeRanges(path, data, 0, 7);
    expect(direct).toBe(tmpTakesDirect);
    expect((await readFile(path)).equals(data)).toBe(true);
  });

  it('writes ranges held in views placed for their offsets (whole blocks in place), into exactly the file they make up', async () => {
    const data = randomBytes(9 * 1024 * 1024 + 555);
    const path = join(root, 'placed.bin');
    expect(await writeRanges(path, data, 0, 5, true)).toBe(tmpTakesDirect);
    expect((await readFile(path)).equals(data)).toBe(true);
  });

  it('resumes at an unaligned offset, keeping the bytes already in the file before it', async () => {
    const data = randomBytes(6 * 1024 * 1024 + 5);
    const path = join(root, 'resumed.bin');
    const start = 3 * 1024 * 1024 + 1234;
    // The file as a killed pull left it: the first `start` bytes right, garbage after.
    await writeFile(path, Buffer.concat([data.subarray(0, start), randomBytes(100_000)]));
    expect(await writeRanges(path, data, start, 11)).toBe(tmpTakesDirect);
    expect((await readFile(path)).equals(data)).toBe(true);
  });

  it('writes the usual way when direct I/O is turned off, and for small files', async () => {
    allowDirectIo(false);
    const big = randomBytes(5 * 1024 * 1024 + 3);
    expect(await writeRanges(join(root, 'off.bin'), big, 0, 3)).toBe(false);
    expect((await readFile(join(root, 'off.bin'))).equals(big)).toBe(true);
    allowDirectIo(true);
    const small = randomBytes(300_000);
    expect(await writeRanges(join(root, 'small.bin'), small, 0, 5)).toBe(false);
    expect((await readFile(join(root, 'small.bin'))).equals(small)).toBe(true);
  });

  it('fails when the writes leave a block partly written', async () => {
    const path = join(root, 'gap.bin');
    const handle = await open(path, 'w');
    try {
      const writer = await DirectWriter.open(path, handle, 8 * 1024 * 1024, 0);
      await writer.write(randomBytes(8 * 1024 * 1024 - 10), 0);
      // With buffered writes there is nothing to check: the last bytes are simply missing, as they were before.
      if (writer.isDirect) await expect(writer.finish()).rejects.toThrow(/partial blocks/);
      else await writer.finish();
      await writer.close();
    } finally {
      await handle.close();
    }
  });

  it('writes only into the file it was given, when another file took its name in between (a hard link to a file elsewhere)', async () => {
    const data = randomBytes(6 * 1024 * 1024 + 5);
    const path = join(root, 'taken.bin');
    const outside = join(root, 'outside.bin');
    await writeFile(outside, Buffer.from('not yours'));
    const handle = await open(path, 'w');
    try {
      await rm(path);
      await link(outside, path);
      const writer = await DirectWriter.open(path, handle, data.length, 0);
      expect(writer.isDirect).toBe(false);
      await writer.write(data, 0);
      await writer.finish();
      await writer.close();
      expect((await handle.stat()).size).toBe(data.length);
    } finally {
      await handle.close();
    }
    expect(await readFile(outside, 'utf8')).toBe('not yours');
  });

  it('leaves every byte it was given in the file when closed early (a failed pull, resumed later)', async () => {
    const data = randomBytes(7 * 1024 * 1024 + 99);
    const path = join(root, 'early.bin');
    const handle = await open(path, 'w');
    const given = cut(0, data.length, 13).filter((_, i) => i % 3 !== 0);
    try {
      const writer = await DirectWriter.open(path, handle, data.length, 0);
      expect(writer.isDirect).toBe(tmpTakesDirect);
      await Promise.all(given.map(([from, to]) => writer.write(data.subarray(from, to), from)));
      await writer.close();
    } finally {
      await handle.close();
    }
    const onDisk = await readFile(path);
    for (const [from, to] of given) expect(onDisk.subarray(from, to).equals(data.subarray(from, to))).toBe(true);
  });
});

describe('whole files and ranged reads around the page cache', () => {
  it('writes a new file whole (a stored chunk), its last block cut to size', async () => {
    const data = randomBytes(1024 * 1024 + 5);
    const path = join(root, 'chunk.bin');
    const handle = await open(path, 'wx');
    try {
      expect(await writeNewFileDirect(path, handle, data)).toBe(tmpTakesDirect);
    } finally {
      await handle.close();
    }
    if (tmpTakesDirect) expect((await readFile(path)).equals(data)).toBe(true);
  });

  it('reads any range, unaligned, and stops short at the end of the file', async () => {
    const data = randomBytes(5 * 1024 * 1024 + 123);
    const path = join(root, 'pack.bin');
    await writeFile(path, data);
    for (const [offset, length] of [[0, 65536], [4095, 1024 * 1024], [3 * 1024 * 1024 + 7, 2 * 1024 * 1024], [5 * 1024 * 1024, 200_000]] as const) {
      const target = Buffer.alloc(length);
      const count = await readDirect(path, target, offset);
      if (!tmpTakesDirect) {
        expect(count).toBeUndefined();
        continue;
      }
      const expected = data.subarray(offset, offset + length);
      expect(count).toBe(expected.length);
      expect(target.subarray(0, count).equals(expected)).toBe(true);
    }
  });

  it('reads in place into a widenable memory, the whole blocks around the range and nothing past them', async () => {
    const data = randomBytes(5 * 1024 * 1024 + 123);
    const path = join(root, 'in-place.bin');
    await writeFile(path, data);
    const memory = Buffer.from(new WebAssembly.Memory({ initial: 160, maximum: 160, shared: true }).buffer);
    widenableMemories.add(memory.buffer);
    const base = 64 * 1024;
    for (const [offset, length] of [[4095, 1024 * 1024], [3 * 1024 * 1024 + 7, 2 * 1024 * 1024 - 7], [8192, 65536]] as const) {
      memory.fill(0xaa);
      const at = base + (offset % 4096);
      const count = await readDirect(path, memory.subarray(at, at + length), offset);
      if (!tmpTakesDirect) {
        expect(count).toBeUndefined();
        continue;
      }
      const end = Math.ceil((offset + length) / 4096) * 4096;
      expect(count).toBe(Math.min(length, data.length - offset));
      expect(memory.subarray(at, at + count!).equals(data.subarray(offset, offset + count!))).toBe(true);
      // The read filled the blocks around the range (it landed in place, no copy), and stopped at their ends.
      expect(memory.subarray(base, at).equals(data.subarray(offset - (offset % 4096), offset))).toBe(true);
      expect(memory[base + end - (offset - (offset % 4096))]).toBe(0xaa);
      expect(memory[base - 1]).toBe(0xaa);
    }
    // A target not placed where its offset sits in a block is read through an aligned buffer and copied.
    memory.fill(0xaa);
    expect(await readDirect(path, memory.subarray(base + 1, base + 1 + 65536), 4096)).toBe(tmpTakesDirect ? 65536 : undefined);
    if (tmpTakesDirect) expect(memory.subarray(base + 1, base + 1 + 65536).equals(data.subarray(4096, 4096 + 65536))).toBe(true);
    expect(memory[base]).toBe(0xaa);
  });

  it('leaves small reads and direct I/O turned off to the usual path', async () => {
    const path = join(root, 'small-read.bin');
    await writeFile(path, randomBytes(300_000));
    expect(await readDirect(path, Buffer.alloc(1000), 5)).toBeUndefined();
    allowDirectIo(false);
    expect(await readDirect(join(root, 'pack.bin'), Buffer.alloc(1024 * 1024), 0)).toBeUndefined();
  });
});
