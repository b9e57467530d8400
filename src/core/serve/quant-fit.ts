// --quant auto: the largest GGUF quantization of a version that fits the machine's free memory. A variant's need is
// its weights (mmapped and fully touched on CPU), the KV cache for the context `run` opens by default, and the
// runtime; with the header at hand the KV cache is computed from the model's shape, otherwise it is the embedded
// engine's own rough bound, so auto never picks a file the engine would then refuse to load.
import { freemem } from 'node:os';
import { basename } from 'node:path';
import { UsageError } from '../../lib/errors.js';
import { freeGpuMemory, type GpuMemory } from '../../serving/embedded/gpu-memory.js';
import { estimateMemory } from '../../serving/embedded/llama.js';
import { isFirstGgufFile } from '../../serving/gguf-shard-name.js';
import { testFreeMemory } from '../../settings/test-hooks.js';
import type { GgufHeader } from '../format/gguf.js';
import { groupShards, quantOf } from './gguf-pick.js';
import { DEFAULT_CONTEXT } from './served-context.js';

const MiB = 1024 * 1024;
const RUNTIME_BYTES = 150 * MiB;

export interface GgufVariant {
  /** Upper case ("Q4_K_M"), or the file name when it names none. */
  quant: string;
  /** Relative paths, first shard first. */
  files: string[];
  bytes: number;
  /** Weights + KV cache for the context (tokens, every parallel sequence together) + runtime. */
  memoryBytes: number;
  /** The KV cache part; computed from the header when `exact`. */
  kvCacheBytes: number;
  exact: boolean;
  /**
   * What --quant auto fits into free memory: the larger of memoryBytes and the embedded engine's own bound, which
   * it checks before loading, so auto never picks a file the engine then refuses.
   */
  fitBytes: number;
}

export interface QuantFit {
  chosen: GgufVariant;
  /** Free RAM, plus the GPU's free memory when it was counted. */
  freeBytes: number;
  /** The GPU counted, when free RAM alone did not fit the largest variant and the engine would use one. */
  gpu?: GpuMemory;
  /** Whether the chosen one fits; false when none does (then it is the smallest). */
  fits: boolean;
  /** Every variant, largest first. */
  variants: GgufVariant[];
}

/** Bytes of the K and V caches (f16) for `context` tokens, from the header's shape; undefined when it lacks one. */
export function kvCacheBytes(header: Pick<GgufHeader, 'metadata'>, context = DEFAULT_CONTEXT): number | undefined {
  const m = header.metadata;
  const arch = m['general.architecture'];
  if (typeof arch !== 'string') return undefined;
  const num = (key: string): number | undefined => {
    const value = m[`${arch}.${key}`];
    return typeof value === 'number' ? value : typeof value === 'bigint' ? Number(value) : undefined;
  };
  const layers = num('block_count');
  const embedding = num('embedding_length');
  const heads = num('attention.head_count');
  if (!layers || !embedding || !heads) return undefined;
  const kvHeads = num('attention.head_count_kv') ?? heads;
  const keyLength = num('attention.key_length') ?? embedding / heads;
  const valueLength = num('attention.value_length') ?? embedding / heads;
  return layers * context * kvHeads * (keyLength + valueLength) * 2;
}

/** The embedded engine's bound on the KV cache, for when the header is not known. */
const roughKvCache = (bytes: number, context: number): number => estimateMemory(bytes, context) - bytes - RUNTIME_BYTES;

/** The GGUF variants among a version's files (relative paths with sizes), largest first. */
export function ggufVariants(
  files: Array<{ path: string; size: number }>,
  headers: Map<string, Pick<GgufHeader, 'metadata'>> = new Map(),
  context = DEFAULT_CONTEXT,
): GgufVariant[] {
  const ggufs = files.map((f) => f.path).filter((p) => p.toLowerCase().endsWith('.gguf')).sort();
  const sizes = new Map(files.map((f) => [f.path, f.size]));
  const variants = ggufs.filter((p) => isFirstGgufFile(basename(p))).map((first): GgufVariant => {
    const shards = groupShards(first, ggufs);
    const bytes = shards.reduce((sum, p) => sum + (sizes.get(p) ?? 0), 0);
    const header = headers.get(first);
    const exactKv = header ? kvCacheBytes(header, context) : undefined;
    const kv = exactKv ?? roughKvCache(bytes, context);
    const memoryBytes = bytes + kv + RUNTIME_BYTES;
    const fitBytes = Math.max(memoryBytes, estimateMemory(bytes, context));
    return { quant: quantOf(first) ?? basename(first), files: shards, bytes, kvCacheBytes: kv, memoryBytes, exact: exactKv !== undefined, fitBytes };
  });
  return variants.sort((a, b) => b.fitBytes - a.fitBytes || b.bytes - a.bytes);
}

/** Free memory to fit a model into: the machine's (os.freemem), or the test suite's stand-in. */
export function freeMemory(): number {
  return testFreeMemory() ?? freemem();
}

/** The largest variant whose need fits `freeBytes`; the smallest (fits: false) when none does. */
export function fitToMemory(variants: GgufVariant[], freeBytes: number, label: string): QuantFit {
  if (variants.length === 0) throw new UsageError(`--quant auto: no GGUF file in ${label}`, { hint: 'leave out --quant; it chooses among GGUF files only' });
  const fitting = variants.find((v) => v.fitBytes <= freeBytes);
  return { chosen: fitting ?? variants.at(-1)!, freeBytes, fits: fitting !== undefined, variants };
}

/**
 * The fit for this machine: free RAM, and when that does not hold the largest variant, the free memory of the GPU
 * the embedded engine would offload layers to (`gpu`: the serve.gpu setting) as well.
 */
export async function fitToMachine(variants: GgufVariant[], label: string, gpu: 'auto' | 'off' = 'auto'): Promise<QuantFit> {
  const ram = freeMemory();
  const fit = fitToMemory(variants, ram, label);
  if (fit.fits && fit.chosen === variants[0]) return fit;
  const device = await freeGpuMemory(gpu);
  return device ? { ...fitToMemory(variants, ram + device.freeBytes, label), gpu: device } : fit;
}
