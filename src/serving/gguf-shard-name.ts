import { parseGgufShardFilename } from '@huggingface/gguf';

// The file names of a split GGUF (`model-Q6_K-00001-of-00003.gguf`), read by @huggingface/gguf's own parser so
// aim and the hub agree on them. Importing it loads the GGUF package: callers on a fast path import this lazily.

export interface GgufShardName {
  /** The name before `-0000N-of-0000M.gguf`. */
  prefix: string;
  /** 1-based. */
  shard: number;
  total: number;
}

/** The shard a file name (not a path) names, or undefined when it is not a shard's name. `.GGUF` counts too. */
export function ggufShardName(fileName: string): GgufShardName | undefined {
  const parsed = parseGgufShardFilename(fileName.replace(/\.gguf$/i, '.gguf'));
  return parsed ? { prefix: parsed.prefix, shard: Number(parsed.shard), total: Number(parsed.total) } : undefined;
}

/** The file name of shard `shard` of `total` with this prefix. */
export function ggufShardFileName(prefix: string, shard: number, total: number): string {
  const digits = (n: number): string => String(n).padStart(5, '0');
  return `${prefix}-${digits(shard)}-of-${digits(total)}.gguf`;
}

/** Whether a GGUF file name is the one to read a model's header from: an unsplit file, or the first shard. */
export function isFirstGgufFile(fileName: string): boolean {
  return /\.gguf$/i.test(fileName) && (ggufShardName(fileName)?.shard ?? 1) === 1;
}
