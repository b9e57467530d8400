import { describe, expect, it } from 'vitest';
import { fitToMemory, ggufVariants, kvCacheBytes } from '../../../src/core/serve/quant-fit.js';
import { servedContext } from '../../../src/core/serve/served-context.js';
import { defaultParallel } from '../../../src/serving/embedded/llama.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const files = [
  { path: 'qwen-q4_k_m.gguf', size: 4.4 * GiB },
  { path: 'qwen-q6_k-00001-of-00002.gguf', size: 3 * GiB },
  { path: 'qwen-q6_k-00002-of-00002.gguf', size: 3 * GiB },
  { path: 'qwen-q8_0.gguf', size: 7.5 * GiB },
  { path: 'README.md', size: 1000 },
];

describe('ggufVariants', () => {
  it('groups split shards, sums their sizes and orders the variants largest first', () => {
    const variants = ggufVariants(files);
    expect(variants.map((v) => [v.quant, v.bytes, v.files.length])).toEqual([['Q8_0', 7.5 * GiB, 1], ['Q6_K', 6 * GiB, 2], ['Q4_K_M', 4.4 * GiB, 1]]);
    for (const v of variants) expect(v.exact).toBe(false);
  });

  it('computes the KV cache from the header: layers x context x KV heads x (K + V length) x 2 bytes', () => {
    // Qwen2.5-7B's shape: 28 layers, 28 heads of 128 over 3584, 4 KV heads.
    const metadata = { 'general.architecture': 'qwen2', 'qwen2.block_count': 28, 'qwen2.embedding_length': 3584, 'qwen2.attention.head_count': 28, 'qwen2.attention.head_count_kv': 4 };
    expect(kvCacheBytes({ metadata })).toBe(28 * 2048 * 4 * 256 * 2);
    expect(kvCacheBytes({ metadata: { 'general.architecture': 'qwen2' } })).toBeUndefined();
    const [q8] = ggufVariants(files, new Map([['qwen-q8_0.gguf', { metadata }]]));
    expect(q8).toMatchObject({ quant: 'Q8_0', exact: true, kvCacheBytes: 112 * MiB, memoryBytes: 7.5 * GiB + 112 * MiB + 150 * MiB });
    // What auto fits by is never below the embedded engine's own check (weights + 1 GiB at 2048 tokens + runtime).
    expect(q8!.fitBytes).toBe(7.5 * GiB + 1 * GiB + 150 * MiB);
  });
});

describe('fitToMemory', () => {
  const variants = ggufVariants(files);
  it('takes the largest variant that fits', () => {
    expect(fitToMemory(variants, 8 * GiB, 'x')).toMatchObject({ fits: true, chosen: { quant: 'Q6_K' } });
    expect(fitToMemory(variants, 64 * GiB, 'x')).toMatchObject({ fits: true, chosen: { quant: 'Q8_0' } });
  });
  it('takes the smallest, saying it does not fit, when none fits', () => {
    expect(fitToMemory(variants, 1 * GiB, 'x')).toMatchObject({ fits: false, chosen: { quant: 'Q4_K_M' } });
  });
  it('refuses a version without GGUF files', () => {
    expect(() => fitToMemory([], 8 * GiB, 'team/x:v1')).toThrow(/--quant auto: no GGUF file in team\/x:v1/);
  });
});

describe('servedContext', () => {
  const settings = (values: Record<string, number | undefined>) => ({ number: (key: string) => values[key] });
  it('is the context size once per parallel sequence, --ctx-size first', () => {
    expect(servedContext(settings({ 'serve.ctx-size': 4096, 'serve.parallel': 3 }))).toBe(12288);
    expect(servedContext(settings({ 'serve.ctx-size': 4096, 'serve.parallel': 2 }), 1024)).toBe(2048);
    expect(servedContext(settings({}))).toBe(2048 * defaultParallel());
  });
  it('makes auto reserve more for a larger context', () => {
    const small = ggufVariants(files, new Map(), 2048)[0]!;
    const large = ggufVariants(files, new Map(), 8192)[0]!;
    expect(large.fitBytes).toBeGreaterThan(small.fitBytes);
  });
});
