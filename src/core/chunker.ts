// Content-defined chunking: FastCDC (Xia et al., 2016) with a 32-bit gear hash and normalized chunking (level 2).
// A boundary depends only on the bytes just before it, so inserting bytes near the start of a file moves the
// boundaries around the insertion and nothing after it: a changed file stores a few new chunks, not a new file.
// The gear table and parameters are part of the storage format (recorded in aim-repo.json): changing them changes
// every boundary and so defeats dedupe against older pushes.

export interface ChunkingParams {
  algorithm: 'fastcdc-gear32';
  minSize: number;
  avgSize: number;
  maxSize: number;
  /** Seed of the gear table generator (mulberry32). */
  seed: number;
}

// A 128 KiB minimum (not the paper's avg/4) lets boundaries resynchronise sooner after a changed region: on 1 GiB
// with 5 % changed in 8 places it stores 4 % less than 256 KiB at the same chunk count (fixtures, measured).
export const DEFAULT_CHUNKING: ChunkingParams = {
  algorithm: 'fastcdc-gear32',
  minSize: 128 * 1024,
  avgSize: 1024 * 1024,
  maxSize: 4 * 1024 * 1024,
  seed: 0x61696d31, // "aim1"
};

function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

// Int32 on purpose: with `| 0` arithmetic the rolling hash stays a small integer in V8, while uint32 values above
// 2^31 become heap numbers; same bits, same boundaries, about 1.4x faster.
function gearTable(seed: number): Int32Array {
  const next = mulberry32(seed);
  return Int32Array.from({ length: 256 }, () => next() | 0);
}

/** A mask with `bits` one-bits spread over the high half of the word, as FastCDC's paper recommends. */
function spreadMask(bits: number): number {
  let mask = 0;
  const step = 32 / bits;
  for (let i = 0; i < bits; i++) mask |= 1 << (31 - Math.floor(i * step));
  return mask >>> 0;
}

export class Chunker {
  readonly params: ChunkingParams;
  private readonly gear: Int32Array;
  private readonly maskSmall: number;
  private readonly maskLarge: number;

  constructor(params: ChunkingParams = DEFAULT_CHUNKING) {
    if (!(params.minSize > 0 && params.minSize <= params.avgSize && params.avgSize <= params.maxSize)) {
      throw new RangeError(`invalid chunking sizes ${params.minSize}/${params.avgSize}/${params.maxSize}`);
    }
    this.params = params;
    this.gear = gearTable(params.seed);
    const bits = Math.round(Math.log2(params.avgSize));
    this.maskSmall = spreadMask(bits + 2) | 0; // harder to match before the average: fewer tiny chunks
    this.maskLarge = spreadMask(bits - 2) | 0; // easier after it: fewer chunks reach the maximum
  }

  /**
   * Length of the next chunk of `data[start, end)`. `end - start` must be at least maxSize unless the data ends
   * there (the caller keeps a window of maxSize bytes ahead, or passes the file's tail).
   */
  cut(data: Uint8Array, start: number, end: number): number {
    const { minSize, avgSize, maxSize } = this.params;
    const available = end - start;
    if (available <= minSize) return available;
    const limit = Math.min(available, maxSize);
    const normal = Math.min(limit, avgSize);
    const gear = this.gear;
    const maskSmall = this.maskSmall;
    const maskLarge = this.maskLarge;
    const normalEnd = start + normal;
    const limitEnd = start + limit;
    let hash = 0;
    let i = start + minSize;
    for (; i < normalEnd; i++) {
      hash = ((hash << 1) + gear[data[i]!]!) | 0;
      if ((hash & maskSmall) === 0) return i + 1 - start;
    }
    for (; i < limitEnd; i++) {
      hash = ((hash << 1) + gear[data[i]!]!) | 0;
      if ((hash & maskLarge) === 0) return i + 1 - start;
    }
    return limit;
  }

  /** Chunk lengths of a whole buffer (tests and small inputs; files go through the streaming reader). */
  split(data: Uint8Array): number[] {
    const lengths: number[] = [];
    for (let start = 0; start < data.length; ) {
      const length = this.cut(data, start, data.length);
      lengths.push(length);
      start += length;
    }
    return lengths;
  }
}
