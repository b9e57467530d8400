import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomStream } from '../../../fixtures/generate-model.js';
import { cutChunks, readChunks } from '../../../src/core/chunking/chunk-reader.js';
import { Chunker, DEFAULT_CHUNKING, type ChunkingParams } from '../../../src/core/chunking/chunker.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Absolute offsets where each chunk ends. */
function boundaries(lengths: number[]): number[] {
  let offset = 0;
  return lengths.map((length) => (offset += length));
}

describe('Chunker (FastCDC)', () => {
  /** The default parameters without the finer head: the chunker of a file's body. */
  const BODY: ChunkingParams = { ...DEFAULT_CHUNKING, head: undefined };
  const chunker = new Chunker(BODY);
  const data = randomStream('chunker-base').next(24 * MiB);

  it('covers the input exactly, with every chunk but the last within min and max', () => {
    const lengths = chunker.split(data);
    expect(lengths.reduce((a, b) => a + b, 0)).toBe(data.length);
    for (const length of lengths.slice(0, -1)) {
      expect(length).toBeGreaterThanOrEqual(DEFAULT_CHUNKING.minSize);
      expect(length).toBeLessThanOrEqual(DEFAULT_CHUNKING.maxSize);
    }
    expect(lengths.at(-1)!).toBeLessThanOrEqual(DEFAULT_CHUNKING.maxSize);
    // Normalized chunking keeps the average near avgSize on random data (not at min or max).
    const average = data.length / lengths.length;
    expect(average).toBeGreaterThan(0.6 * DEFAULT_CHUNKING.avgSize);
    expect(average).toBeLessThan(1.6 * DEFAULT_CHUNKING.avgSize);
  });

  it('is deterministic, also across instances', () => {
    expect(new Chunker(BODY).split(data)).toEqual(chunker.split(data));
    expect(chunker.split(data)).toEqual(chunker.split(Buffer.from(data)));
  });

  it('keeps every boundary after an insertion near the start, shifted by the inserted length', () => {
    const inserted = randomStream('chunker-insert').next(KiB);
    const at = 100 * KiB;
    const changed = Buffer.concat([data.subarray(0, at), inserted, data.subarray(at)]);
    const before = boundaries(chunker.split(data));
    const after = boundaries(chunker.split(changed));
    // The first couple of chunks (around the insertion) may differ; every cut point after them is the same, 1 KiB later.
    expect(after.slice(2).map((end) => end - KiB)).toEqual(before.slice(before.length - (after.length - 2)));
    expect(before.slice(2).map((end) => end + KiB)).toEqual(after.slice(after.length - (before.length - 2)));
    expect(before.length).toBeGreaterThan(10);
  });

  it('keeps the boundaries before a change and after the chunk it falls in', () => {
    const changed = Buffer.from(data);
    const at = 12 * MiB;
    changed[at] = changed[at]! ^ 0xff;
    const before = boundaries(chunker.split(data));
    const after = boundaries(chunker.split(changed));
    const differing = before.filter((end) => !after.includes(end));
    expect(differing.length).toBeLessThanOrEqual(2);
    expect(before.filter((end) => end < at)).toEqual(after.filter((end) => end < at));
  });

  it('respects the maximum on data without cut points, and returns short inputs whole', () => {
    const zeros = new Uint8Array(10 * MiB);
    const lengths = chunker.split(zeros);
    expect(lengths.slice(0, -1).every((length) => length === DEFAULT_CHUNKING.maxSize)).toBe(true);
    expect(lengths.reduce((a, b) => a + b, 0)).toBe(zeros.length);
    expect(chunker.split(data.subarray(0, 1000))).toEqual([1000]);
    expect(chunker.split(data.subarray(0, DEFAULT_CHUNKING.minSize))).toEqual([DEFAULT_CHUNKING.minSize]);
    expect(chunker.split(new Uint8Array(0))).toEqual([]);
  });

  it('honours other parameters, which change the boundaries (they are part of the format)', () => {
    const small: ChunkingParams = { ...BODY, minSize: 16 * KiB, avgSize: 64 * KiB, maxSize: 256 * KiB };
    const lengths = new Chunker(small).split(data.subarray(0, 4 * MiB));
    for (const length of lengths.slice(0, -1)) {
      expect(length).toBeGreaterThanOrEqual(small.minSize);
      expect(length).toBeLessThanOrEqual(small.maxSize);
    }
    const reseeded = new Chunker({ ...BODY, seed: 1 }).split(data);
    expect(reseeded).not.toEqual(chunker.split(data));
  });

  it('finds the same boundaries from positions scanned in parts (as the cutting workers do)', () => {
    // Parts of uneven length, the second starting at an odd offset, over a view that is not 4-byte aligned.
    const view = Buffer.concat([Buffer.alloc(3), data]).subarray(3);
    for (const [params, length] of [[BODY, data.length], [{ ...BODY, minSize: 64, avgSize: 256, maxSize: 1024 }, 512 * KiB]] as const) {
      const cutter = new Chunker(params);
      const input = view.subarray(0, length);
      const split = Math.floor(length / 3) + 1;
      const candidates = [...cutter.scan(input, 0, split, 0), ...cutter.scan(input, split, length, 0)];
      const cursor = { index: 0 };
      const lengths: number[] = [];
      for (let start = 0; start < length; start += lengths.at(-1)!) lengths.push(cutter.cutAt(input, start, length, candidates, cursor));
      expect(lengths).toEqual(cutter.split(input));
      expect(lengths.length).toBeGreaterThan(10);
    }
  });

  describe('the head of a file', () => {
    const head = DEFAULT_CHUNKING.head!;
    const withHead = new Chunker();
    /** Bytes of `changed`'s chunks that `original` has no chunk with the same content for. */
    function newBytes(cutter: Chunker, original: Buffer, changed: Buffer): number {
      const chunksOf = (bytes: Buffer) => {
        let offset = 0;
        return cutter.split(bytes).map((length) => bytes.subarray(offset, (offset += length)).toString('base64'));
      };
      const known = new Set(chunksOf(original));
      return chunksOf(changed).filter((chunk) => !known.has(chunk)).reduce((sum, chunk) => sum + Buffer.from(chunk, 'base64').length, 0);
    }

    it('is cut with the finer head sizes, and the rest with the body sizes', () => {
      const chunks: Array<[from: number, length: number]> = [];
      let from = 0;
      for (const length of withHead.split(data)) chunks.push([from, length]), (from += length);
      const inHead = chunks.filter(([start]) => start < head.size);
      const inBody = chunks.filter(([start]) => start >= head.size).slice(0, -1);
      for (const [, length] of inHead) expect(length).toBeLessThanOrEqual(head.maxSize);
      for (const [, length] of inHead.slice(0, -1)) expect(length).toBeGreaterThanOrEqual(head.minSize);
      for (const [, length] of inBody) expect(length).toBeGreaterThanOrEqual(DEFAULT_CHUNKING.minSize);
      const headAverage = head.size / inHead.length;
      expect(headAverage).toBeGreaterThan(0.6 * head.avgSize);
      expect(headAverage).toBeLessThan(1.6 * head.avgSize);
      expect(inBody.length).toBeGreaterThan(5);
      expect(withHead.split(data)).not.toEqual(chunker.split(data));
    });

    it('makes an insertion near the start cost a head chunk, not a body chunk', () => {
      const changed = Buffer.concat([data.subarray(0, 4 * KiB), randomStream('chunker-head-insert').next(KiB), data.subarray(4 * KiB)]);
      const stored = newBytes(withHead, data, changed);
      expect(stored).toBeGreaterThan(KiB);
      expect(stored).toBeLessThanOrEqual(2 * head.maxSize);
      expect(newBytes(chunker, data, changed)).toBeGreaterThan(stored);
    });

    it('rejects a head whose chunks could be longer than the body maximum', () => {
      expect(() => new Chunker({ ...DEFAULT_CHUNKING, head: { ...head, maxSize: 2 * DEFAULT_CHUNKING.maxSize } })).toThrow(RangeError);
    });
  });

  describe('masks: part of the format', () => {
    /** The first default, which repositories created before the masks and normalization settings still use. */
    const FIRST: ChunkingParams = { algorithm: 'fastcdc-gear32', minSize: 128 * KiB, avgSize: MiB, maxSize: 4 * MiB, seed: 0x61696d31 };

    it('cuts a repository of the first default exactly as before: masks spread over the word, level 2', () => {
      const { maskSmall, maskLarge } = new Chunker(FIRST).kernel;
      expect([maskSmall, maskLarge]).toEqual([-306778698, -710224470]);
    });

    it('new repositories: top-bit masks, level 1, each mask inside the stricter one', () => {
      const { maskSmall, maskLarge } = chunker.kernel;
      expect([maskSmall >>> 0, maskLarge >>> 0]).toEqual([0xfffff000, 0xffffc000]);
      expect(maskSmall & maskLarge).toBe(maskLarge);
    });

    it('a changed region costs fewer new bytes than with the first default (boundaries fall back on the old ones sooner)', async () => {
      const { digestOf } = await import('../../../src/core/format/digest.js');
      const v1 = randomStream('chunker-regions').next(96 * MiB);
      const v2 = Buffer.from(v1);
      const regions = 16;
      const noise = randomStream('chunker-regions-noise');
      for (let r = 0; r < regions; r++) v2.set(noise.next(2 * MiB), r * 6 * MiB + 2 * MiB);
      const extra = async (params: ChunkingParams): Promise<number> => {
        const cutter = new Chunker(params);
        const cut = (bytes: Buffer) => {
          let offset = 0;
          return cutter.split(bytes).map((length) => bytes.subarray(offset, (offset += length)));
        };
        const stored = new Set(await Promise.all(cut(v1).map(digestOf)));
        let fresh = 0;
        for (const chunk of cut(v2)) if (!stored.has(await digestOf(chunk))) fresh += chunk.length;
        return (fresh - regions * 2 * MiB) / regions;
      };
      const now = await extra(BODY);
      const first = await extra(FIRST);
      expect(now).toBeLessThan(0.7 * first);
      expect(now).toBeLessThan(1.5 * MiB);
    });
  });

  it('rejects inconsistent sizes', () => {
    expect(() => new Chunker({ ...DEFAULT_CHUNKING, minSize: 0 })).toThrow(RangeError);
    expect(() => new Chunker({ ...DEFAULT_CHUNKING, minSize: 2 * MiB })).toThrow(RangeError);
    expect(() => new Chunker({ ...DEFAULT_CHUNKING, maxSize: 256 * KiB })).toThrow(RangeError);
  });

  describe('streaming reader', () => {
    let folder: string;
    beforeAll(async () => {
      folder = await mkdtemp(join(tmpdir(), 'aim-chunker-'));
    });
    afterAll(() => rm(folder, { recursive: true, force: true }));

    it('cuts a file at the same boundaries as split() on the whole buffer', async () => {
      // 24 MiB is larger than the reader's 16 MiB window, so refills and carried-over tails are exercised.
      const file = join(folder, 'data.bin');
      await writeFile(file, data);
      const chunks: Buffer[] = [];
      for await (const chunk of readChunks(file, chunker)) chunks.push(chunk);
      expect(chunks.map((c) => c.length)).toEqual(chunker.split(data));
      expect(Buffer.concat(chunks).equals(data)).toBe(true);
    });

    it('cuts a file read whole (a small file read ahead) exactly as it cuts the file streamed, head included', async () => {
      const withHead = new Chunker(DEFAULT_CHUNKING);
      for (const size of [0, 1, 40 * KiB, 3 * MiB + 17]) {
        const bytes = data.subarray(0, size);
        const file = join(folder, `small-${size}.bin`);
        await writeFile(file, bytes);
        const streamed: Buffer[] = [];
        for await (const chunk of readChunks(file, withHead)) streamed.push(chunk);
        const cut = [...cutChunks(bytes, withHead)];
        expect(cut.map((c) => c.length)).toEqual(streamed.map((c) => c.length));
        expect(Buffer.concat(cut).equals(bytes)).toBe(true);
      }
    });

    it('cuts a head longer than its window with the head sizes up to the head end', async () => {
      const file = join(folder, 'data.bin');
      await writeFile(file, data);
      const longHead = new Chunker({ ...DEFAULT_CHUNKING, head: { ...DEFAULT_CHUNKING.head!, size: 20 * MiB } });
      const lengths: number[] = [];
      for await (const chunk of readChunks(file, longHead)) lengths.push(chunk.length);
      expect(lengths).toEqual(longHead.split(data));
      expect(lengths.length).toBeGreaterThan(100);
    });
  });
});
