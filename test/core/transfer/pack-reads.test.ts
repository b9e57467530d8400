import { describe, expect, it } from 'vitest';
import type { Digest } from '../../../src/core/format/digest.js';
import type { ChunkLocations, PackedChunk } from '../../../src/core/store/packs.js';
import { MAX_GAP_BYTES, planPackReads } from '../../../src/core/transfer/pack-reads.js';

const digest = (n: number) => `blake3:${n.toString(16).padStart(64, '0')}` as Digest;

function locations(entries: Array<[number, PackedChunk]>): ChunkLocations {
  const map = new Map(entries.map(([n, at]) => [digest(n), at]));
  return { size: map.size, lookup: (d) => map.get(d) };
}

describe('planPackReads', () => {
  it('reads each pack in offset order, through small gaps, split at wide gaps and at the read size', () => {
    const index = locations([
      [1, { pack: 'a', offset: 5000, size: 1000 }],
      [2, { pack: 'a', offset: 0, size: 1000 }],
      [3, { pack: 'a', offset: 1000 + MAX_GAP_BYTES, size: 1000 }], // less than MAX_GAP_BYTES after chunk 1: read through
      [4, { pack: 'a', offset: 2000 + 2 * MAX_GAP_BYTES + 1, size: 1000 }], // more than MAX_GAP_BYTES after chunk 3: a new read
      [5, { pack: 'b', offset: 100, size: 1000 }],
      [6, { pack: 'b', offset: 1100, size: 1000 }],
    ]);
    const wanted = [1, 2, 3, 4, 5, 6, 2].map((n) => ({ digest: digest(n), size: 1000 }));
    const { reads, unpacked } = planPackReads(wanted, index, 64 * 1024 * 1024);
    expect(unpacked).toEqual([]);
    expect(reads.map((read) => [read.pack, read.offset, read.length, read.chunks.map((chunk) => chunk.digest)])).toEqual([
      ['a', 0, 2000 + MAX_GAP_BYTES, [digest(2), digest(1), digest(3)]],
      ['a', 2000 + 2 * MAX_GAP_BYTES + 1, 1000, [digest(4)]],
      ['b', 100, 2000, [digest(5), digest(6)]],
    ]);
    // The same chunks with reads of at most 3000 bytes.
    const small = planPackReads(wanted, index, 3000);
    expect(small.reads.every((read) => read.length <= 3000)).toBe(true);
    expect(small.reads.flatMap((read) => read.chunks).length).toBe(6);
  });

  it('leaves chunks no pack holds at their size to be fetched one by one', () => {
    const index = locations([[1, { pack: 'a', offset: 0, size: 999 }]]);
    const { reads, unpacked } = planPackReads([{ digest: digest(1), size: 1000 }, { digest: digest(2), size: 10 }], index);
    expect(reads).toEqual([]);
    expect(unpacked.map((chunk) => chunk.digest)).toEqual([digest(1), digest(2)]);
  });
});
