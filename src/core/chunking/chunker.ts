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
  /**
   * Which bits the masks test: 'spread' over the word, as FastCDC's paper does (repositories created with aim's
   * first default, where this is absent), or 'top', the word's highest bits, so that each mask holds the bits of
   * the looser one and a position that ends a chunk under one regime still does under the other.
   */
  masks?: 'spread' | 'top';
  /** Mask bits added before avgSize and taken away after it (FastCDC's normalization level; 2 where absent). */
  normalization?: number;
  /**
   * Finer chunking for the first `size` bytes of every file: a chunk that starts there is cut with these sizes.
   * Absent from the parameters of repositories created with aim's first default: those cut every chunk alike.
   */
  head?: { size: number; minSize: number; avgSize: number; maxSize: number };
}

// What a changed region costs beyond its own bytes is the chunks around it that change too: the one it starts in,
// and those cut after it until the boundaries fall back on the old ones. Top-bit masks at level 1 and a 512 KiB
// average cost the fewest such bytes of the parameters `node bench/chunking.mjs` compares (its figures are in
// docs/benchmarks.md, "Figures behind code choices"); a 128 KiB minimum (not the paper's avg/4) lets boundaries
// resynchronise sooner after a changed region.
export const DEFAULT_CHUNKING: ChunkingParams = {
  algorithm: 'fastcdc-gear32',
  minSize: 128 * 1024,
  avgSize: 512 * 1024,
  maxSize: 2 * 1024 * 1024,
  seed: 0x61696d31, // "aim1"
  masks: 'top',
  normalization: 1,
  // Model formats keep their editable metadata at the start of the file (GGUF keys and tokenizer, the safetensors
  // JSON header), so an edit there, which shifts everything after it, costs a 128 KiB chunk instead of a 1 MiB one;
  // 8 MiB of head adds about 60 chunks to a big file.
  head: { size: 8 * 1024 * 1024, minSize: 16 * 1024, avgSize: 128 * 1024, maxSize: 512 * 1024 },
};

/** Bytes that a rolling hash value depends on: a 32-bit word shifted left once per byte. */
export const HASH_SPAN = 32;

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
// 2^31 become heap numbers, which are slower; same bits, same boundaries.
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

/** A mask of the word's `bits` highest bits: the bits that depend on the most bytes of the rolling window. */
function topMask(bits: number): number {
  return (2 ** bits - 1) * 2 ** (32 - bits);
}

export class Chunker {
  readonly params: ChunkingParams;
  private readonly gear: Int32Array;
  private readonly maskSmall: number;
  private readonly maskLarge: number;
  private readonly headChunker?: Chunker;

  constructor(params: ChunkingParams = DEFAULT_CHUNKING) {
    if (!(params.minSize > 0 && params.minSize <= params.avgSize && params.avgSize <= params.maxSize)) {
      throw new RangeError(`invalid chunking sizes ${params.minSize}/${params.avgSize}/${params.maxSize}`);
    }
    if (params.head) {
      const { size, ...sizes } = params.head;
      // Readers keep a maximum chunk of the file body ahead of every cut, which must also cover a head chunk.
      if (!(size >= 0 && sizes.maxSize <= params.maxSize)) throw new RangeError(`invalid chunking head ${size}/${sizes.maxSize}`);
      this.headChunker = new Chunker({ algorithm: params.algorithm, seed: params.seed, masks: params.masks, normalization: params.normalization, ...sizes });
    }
    this.params = params;
    this.gear = gearTable(params.seed);
    const bits = Math.round(Math.log2(params.avgSize));
    const level = params.normalization ?? 2;
    const mask = params.masks === 'top' ? topMask : spreadMask;
    this.maskSmall = mask(bits + level) | 0; // harder to match before the average: fewer tiny chunks
    this.maskLarge = mask(bits - level) | 0; // easier after it: fewer chunks reach the maximum
  }

  /** The chunker for a chunk that starts at `offset` in its file: the head's finer one in the file's first bytes. */
  at(offset: number): Chunker {
    return this.headChunker && offset < this.params.head!.size ? this.headChunker : this;
  }

  /**
   * Length of the next chunk of `data[start, end)`, for a chunk of the file's body (see `at`). `end - start` must
   * be at least maxSize unless the data ends there (the caller keeps a window of maxSize bytes ahead, or passes the
   * file's tail).
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

  /**
   * Where in `data[from, to)` the rolling hash matches a mask, for cutting on several threads. The hash at a
   * position depends only on the 32 bytes ending there (each step shifts the oldest byte's bits out of the word),
   * so each thread scans its own part of a window and `cutAt` then picks exactly the boundaries `cut` would.
   * Up to 31 bytes before `from` are read, not before `history` (where valid bytes begin). Each position is
   * encoded as `position * 4 + (1 if the small mask matches) + (2 if the large mask matches)`. Files are scanned
   * by the same loop in WebAssembly (gear-scan.wat); this one is its reference (test/core/gear-scan.test.ts).
   */
  scan(data: Uint8Array, from: number, to: number, history: number): number[] {
    const found: number[] = [];
    let hash = 0;
    for (let i = Math.max(history, from - HASH_SPAN + 1); i < to; i++) {
      hash = ((hash << 1) + this.gear[data[i]!]!) | 0;
      const flags = ((hash & this.maskSmall) === 0 ? 1 : 0) | ((hash & this.maskLarge) === 0 ? 2 : 0);
      if (i >= from && flags !== 0) found.push(i * 4 + flags);
    }
    return found;
  }

  /**
   * The same length `cut` returns, using positions found by `scan` over the data after the chunk's first 31
   * hashed bytes (where the hash, started from zero, does not yet cover a whole 32-byte window). `candidates` is
   * sorted; `cursor.index` only moves forward, so consecutive cuts of one window cost no search.
   */
  cutAt(data: Uint8Array, start: number, end: number, candidates: readonly number[], cursor: { index: number }): number {
    const { minSize, avgSize, maxSize } = this.params;
    const available = end - start;
    if (available <= minSize) return available;
    const limit = Math.min(available, maxSize);
    const normalEnd = start + Math.min(limit, avgSize);
    const limitEnd = start + limit;
    let i = start + minSize;
    const exactEnd = Math.min(i + HASH_SPAN - 1, limitEnd);
    let hash = 0;
    for (; i < exactEnd; i++) {
      hash = ((hash << 1) + this.gear[data[i]!]!) | 0;
      if ((hash & (i < normalEnd ? this.maskSmall : this.maskLarge)) === 0) return i + 1 - start;
    }
    while (cursor.index < candidates.length && candidates[cursor.index]! < i * 4) cursor.index++;
    for (let k = cursor.index; k < candidates.length; k++) {
      const position = Math.floor(candidates[k]! / 4);
      if (position >= limitEnd) break;
      if ((candidates[k]! & (position < normalEnd ? 1 : 2)) !== 0) return position + 1 - start;
    }
    return limit;
  }

  /** The gear table and masks, for the WebAssembly scan (gear-scan.wat), which must find what `scan` finds. */
  get kernel(): { gear: Int32Array; maskSmall: number; maskLarge: number } {
    return { gear: this.gear, maskSmall: this.maskSmall, maskLarge: this.maskLarge };
  }

  /** Chunk lengths of a whole buffer (tests and small inputs; files go through the streaming reader). */
  split(data: Uint8Array): number[] {
    const lengths: number[] = [];
    for (let start = 0; start < data.length; ) {
      const length = this.at(start).cut(data, start, data.length);
      lengths.push(length);
      start += length;
    }
    return lengths;
  }
}
