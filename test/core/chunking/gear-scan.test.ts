import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { randomStream } from '../../../fixtures/generate-model.js';
import { compileGearScan } from '../../../scripts/compile-wat.mjs';
import { Chunker, DEFAULT_CHUNKING } from '../../../src/core/chunking/chunker.js';
import { GearScan, installGear } from '../../../src/core/chunking/gear-scan.js';
import { OUT_ENTRIES } from '../../../src/core/chunking/parallel-chunk-reader.js';

const MiB = 1024 * 1024;

// The WebAssembly scan must find exactly the positions Chunker.scan finds: boundaries, and so every chunk digest
// and every manifest, depend on it.
describe('gear-scan.wasm', () => {
  it('is gear-scan.wat compiled (rebuild with `npm run build:wasm` after editing the .wat)', async () => {
    const text = await readFile(new URL('../../../src/core/chunking/gear-scan.wat', import.meta.url), 'utf8');
    const committed = await readFile(new URL('../../../src/core/chunking/gear-scan.wasm', import.meta.url));
    expect(Buffer.compare(await compileGearScan(text), committed)).toBe(0);
  });

  function setUp(chunker: Chunker, data: Uint8Array, base: number, max = 200_000) {
    const memory = new WebAssembly.Memory({ initial: Math.ceil((base + data.length) / 65536) + 1, maximum: 2048, shared: true });
    installGear(memory, chunker);
    new Uint8Array(memory.buffer).set(data, base);
    return new GearScan(memory, chunker, 4096, max);
  }

  it('finds what Chunker.scan finds, in parts, at odd offsets, for the default and for small parameters', () => {
    const data = randomStream('gear-scan').next(8 * MiB);
    for (const params of [DEFAULT_CHUNKING, { ...DEFAULT_CHUNKING, minSize: 64, avgSize: 256, maxSize: 1024, head: undefined }]) {
      const chunker = new Chunker(params);
      const base = 1 * MiB + 3;
      const scanner = setUp(chunker, data, base);
      const split = 3 * MiB + 7;
      const parts = [scanner.scan(base, base + split, base), scanner.scan(base + split, base + data.length, base)];
      const found = parts.flatMap((part) => part!.map((position) => position - base * 4));
      expect(found).toEqual([...chunker.scan(data, 0, split, 0), ...chunker.scan(data, split, data.length, 0)]);
      expect(found.length).toBeGreaterThan(8);
    }
  });

  it('finds what Chunker.scan finds in every short range, whatever its length and offset (eight bytes a turn, then one)', () => {
    const chunker = new Chunker({ ...DEFAULT_CHUNKING, minSize: 4, avgSize: 8, maxSize: 64, head: undefined });
    const data = randomStream('gear-scan-short').next(256);
    const base = 64 * 1024;
    const scanner = setUp(chunker, data, base);
    let matched = 0;
    for (let from = 0; from < 40; from++) {
      for (let length = 0; length <= 40; length++) {
        const found = scanner.scan(base + from, base + from + length, base)!.map((position) => position - base * 4);
        const expected = chunker.scan(data, from, from + length, 0);
        expect(found, `from ${from}, length ${length}`).toEqual(expected);
        matched += expected.length;
      }
    }
    expect(matched).toBeGreaterThan(100);
  });

  it("overflows a worker's area on the crafted pattern the big-file e2e test pushes (so it takes the slow path)", () => {
    const chunker = new Chunker();
    const pattern = Uint8Array.from({ length: 8 * MiB }, (_, i) => [4, 221, 92][i % 3]!);
    expect(setUp(chunker, pattern, MiB, OUT_ENTRIES).scan(MiB, MiB + pattern.length, MiB)).toBeUndefined();
  });

  it('reports an output area too small for what matched instead of writing past it', () => {
    const chunker = new Chunker({ ...DEFAULT_CHUNKING, minSize: 64, avgSize: 256, maxSize: 1024, head: undefined });
    const data = randomStream('gear-scan-full').next(1 * MiB);
    const expected = chunker.scan(data, 0, data.length, 0);
    expect(setUp(chunker, data, MiB, expected.length).scan(MiB, MiB + data.length, MiB)).toHaveLength(expected.length);
    expect(setUp(chunker, data, MiB, expected.length - 1).scan(MiB, MiB + data.length, MiB)).toBeUndefined();
  });
});
