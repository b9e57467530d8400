// What a changed region costs under chunking settings: random data (512 MiB), 48 regions of 4 MiB overwritten,
// and the bytes of the new version's chunks that the old version does not have, beyond the regions themselves.
// Usage (after `npm run build`): node bench/chunking.mjs [seeds] ['[{"avgSize":1048576,...}, ...]']
// Each variant is merged over the default's body settings; {} is the default itself.
import { randomFillSync } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const { Chunker, DEFAULT_CHUNKING } = await import(pathToFileURL(resolve('dist/core/chunking/chunker.js')).href);
const { nativeBlake3 } = await import(pathToFileURL(resolve('dist/core/hashing/blake3-native.js')).href);
const hex = nativeBlake3().hex;
const MiB = 1024 * 1024;
const SIZE = 512 * MiB;
const REGIONS = 48;
const REGION = 4 * MiB;
const FIRST = { minSize: 128 * 1024, avgSize: MiB, maxSize: 4 * MiB, masks: 'spread', normalization: 2 };
const seeds = Number(process.argv[2] ?? 2);
const variants = JSON.parse(process.argv[3] ?? JSON.stringify([{}, FIRST]));

function chunks(chunker, data) {
  const out = [];
  for (let start = 0; start < data.length; ) {
    const length = chunker.cut(data, start, data.length);
    out.push(data.subarray(start, start + length));
    start += length;
  }
  return out;
}

const results = variants.map(() => ({ perRegion: [], averageChunk: 0 }));
for (let seed = 0; seed < seeds; seed++) {
  const v1 = randomFillSync(Buffer.allocUnsafe(SIZE));
  const v2 = Buffer.from(v1);
  const step = SIZE / REGIONS;
  for (let r = 0; r < REGIONS; r++) randomFillSync(v2, Math.floor(r * step + MiB + Math.random() * (step - REGION - 2 * MiB)), REGION);
  variants.forEach((variant, i) => {
    const chunker = new Chunker({ ...DEFAULT_CHUNKING, head: undefined, ...variant });
    const before = chunks(chunker, v1);
    const stored = new Set(before.map(hex));
    const fresh = chunks(chunker, v2).reduce((sum, chunk) => sum + (stored.has(hex(chunk)) ? 0 : chunk.length), 0);
    results[i].perRegion.push((fresh - REGIONS * REGION) / REGIONS / MiB);
    results[i].averageChunk = SIZE / before.length / 1024;
  });
}
for (const [i, variant] of variants.entries()) {
  const { perRegion, averageChunk } = results[i];
  const mean = perRegion.reduce((a, b) => a + b, 0) / perRegion.length;
  console.log(`${JSON.stringify(variant)}: average chunk ${averageChunk.toFixed(0)} KiB, extra per region ${perRegion.map((x) => x.toFixed(2)).join(', ')} MiB (mean ${mean.toFixed(2)})`);
}
