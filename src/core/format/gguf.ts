// GGUF inspection without loading llama.cpp: the header through @huggingface/gguf (pure JS, reads only the
// header), plus the checks that library leaves out. It parses a truncated file happily, so before any engine sees a
// file we check that the file really holds every tensor's bytes; llama.cpp would otherwise fail late, or on some
// malformed files abort the whole process.
import { open, stat } from 'node:fs/promises';
import { GGMLFileQuantizationType, gguf } from '@huggingface/gguf';
import { IntegrityError } from '../../lib/errors.js';

/** Bytes per block and values per block of each ggml tensor type (ggml.c's type_traits). */
const BLOCK: Record<number, [bytes: number, values: number]> = {
  0: [4, 1], 1: [2, 1], 2: [18, 32], 3: [20, 32], 6: [22, 32], 7: [24, 32], 8: [34, 32], 9: [36, 32],
  10: [84, 256], 11: [110, 256], 12: [144, 256], 13: [176, 256], 14: [210, 256], 15: [292, 256],
  16: [66, 256], 17: [74, 256], 18: [98, 256], 19: [50, 256], 20: [18, 32], 21: [110, 256], 22: [82, 256],
  23: [136, 256], 24: [1, 1], 25: [2, 1], 26: [4, 1], 27: [8, 1], 28: [8, 1], 29: [56, 256], 30: [2, 1],
  34: [54, 256], 35: [66, 256], 39: [17, 32],
};

export interface GgufHeader {
  path: string;
  size: number;
  metadata: Record<string, unknown>;
  parameterCount: number;
  /** Bytes the file must have at least: data offset plus the end of the furthest tensor. */
  requiredSize: number;
}

/** What the push engine puts in manifest annotations and `run` prints. */
export interface GgufFacts {
  architecture?: string;
  parameterCount: number;
  /** The file type name from general.file_type, e.g. "Q6_K"; undefined when the header does not say. */
  quantization?: string;
  contextLength?: number;
  name?: string;
}

function tensorBytes(dtype: number, shape: bigint[]): number | undefined {
  const block = BLOCK[dtype];
  if (!block) return undefined;
  const values = shape.reduce((a, b) => a * Number(b), 1);
  return Math.ceil(values / block[1]) * block[0];
}

async function readMagic(path: string): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(4);
    const { bytesRead } = await handle.read(buffer, 0, 4, 0);
    return buffer.subarray(0, bytesRead).toString('latin1');
  } finally {
    await handle.close();
  }
}

/** Parses the header and checks the file is a whole GGUF: magic, parsable header, every tensor's bytes present. */
export async function readGgufHeader(path: string): Promise<GgufHeader> {
  const { size } = await stat(path);
  const magic = await readMagic(path);
  if (magic !== 'GGUF') {
    throw new IntegrityError(`${path} is not a GGUF file (it starts with ${JSON.stringify(magic)}, not "GGUF")`, {
      hint: 'pull the version again; if it was pushed like this, push the real .gguf file',
    });
  }
  let parsed;
  try {
    parsed = await gguf(path, { allowLocalFile: true, computeParametersCount: true });
  } catch (error) {
    throw new IntegrityError(`${path} has an invalid GGUF header: ${(error as Error).message}`, {
      hint: 'the file is damaged or was cut short; pull the version again', cause: error,
    });
  }
  let end = 0;
  for (const tensor of parsed.tensorInfos) {
    end = Math.max(end, Number(tensor.offset) + (tensorBytes(tensor.dtype, tensor.shape) ?? 0));
  }
  const requiredSize = Number(parsed.tensorDataOffset) + end;
  if (size < requiredSize) {
    throw new IntegrityError(`${path} is truncated: ${size} bytes, its tensors need ${requiredSize}`, {
      hint: 'the download or copy stopped early; pull the version again',
    });
  }
  return { path, size, metadata: parsed.metadata as Record<string, unknown>, parameterCount: parsed.parameterCount, requiredSize };
}

/** The llama_ftype name ("Q6_K", "F16", ...) of a general.file_type value. */
export function fileTypeName(fileType: unknown): string | undefined {
  if (typeof fileType !== 'number') return undefined;
  const name = GGMLFileQuantizationType[fileType];
  return typeof name === 'string' ? name : undefined;
}

export function factsOf(header: GgufHeader): GgufFacts {
  const m = header.metadata;
  const architecture = typeof m['general.architecture'] === 'string' ? m['general.architecture'] : undefined;
  const context = architecture ? m[`${architecture}.context_length`] : undefined;
  return {
    architecture,
    parameterCount: header.parameterCount,
    quantization: fileTypeName(m['general.file_type']),
    contextLength: typeof context === 'number' ? context : typeof context === 'bigint' ? Number(context) : undefined,
    name: typeof m['general.name'] === 'string' ? m['general.name'] : undefined,
  };
}

/** GGUF facts of a file, after checking it is whole. */
export async function ggufFacts(path: string): Promise<GgufFacts> {
  return factsOf(await readGgufHeader(path));
}

/** Manifest annotations for a GGUF file; keys are namespaced so other annotations never collide. */
export function ggufAnnotations(facts: GgufFacts): Record<string, string> {
  const out: Record<string, string> = { 'gguf.parameter_count': String(facts.parameterCount) };
  if (facts.architecture) out['gguf.architecture'] = facts.architecture;
  if (facts.quantization) out['gguf.quantization'] = facts.quantization;
  if (facts.contextLength !== undefined) out['gguf.context_length'] = String(facts.contextLength);
  return out;
}
