import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IntegrityError, NotFoundError } from '../../../src/lib/errors.js';
import { ggufAnnotations, ggufFacts, readGgufHeader } from '../../../src/core/format/gguf.js';
import { nameHasQuant, pickGguf } from '../../../src/core/serve/gguf-pick.js';
import { buildTinyGguf, writeTinyGguf, writeTinyGgufInto } from '../../../fixtures/tiny-gguf.js';
import { writeBrokenGguf, writeTinySplitGguf } from '../../../fixtures/tiny-gguf-variants.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aim-gguf-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('tiny GGUF fixture', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    expect(buildTinyGguf({ seed: 7 }).equals(buildTinyGguf({ seed: 7 }))).toBe(true);
    expect(buildTinyGguf({ seed: 7 }).equals(buildTinyGguf({ seed: 8 }))).toBe(false);
  });
});

describe('readGgufHeader / ggufFacts', () => {
  it('reports architecture, parameters, quantization and context length', async () => {
    const f16 = await writeTinyGgufInto(dir, { quant: 'f16' });
    const q8 = await writeTinyGgufInto(dir, { quant: 'q8_0', contextLength: 4096 });
    expect(await ggufFacts(f16)).toEqual({ architecture: 'llama', parameterCount: 120_640, quantization: 'F16', contextLength: 2048, name: 'tiny-llama' });
    const facts = await ggufFacts(q8);
    expect(facts.quantization).toBe('Q8_0');
    expect(ggufAnnotations(facts)).toEqual({
      'gguf.architecture': 'llama', 'gguf.parameter_count': '120640', 'gguf.quantization': 'Q8_0', 'gguf.context_length': '4096',
    });
  });

  it('refuses a bad magic, a truncated file and garbage', async () => {
    await writeBrokenGguf(join(dir, 'bad.gguf'), 'bad-magic');
    await writeBrokenGguf(join(dir, 'cut.gguf'), 'truncated');
    await writeFile(join(dir, 'short.gguf'), Buffer.from('GGUF\x03\x00'));
    await expect(readGgufHeader(join(dir, 'bad.gguf'))).rejects.toThrow(/not a GGUF file/);
    await expect(readGgufHeader(join(dir, 'cut.gguf'))).rejects.toThrow(/truncated: 246624 bytes, its tensors need 250720/);
    await expect(readGgufHeader(join(dir, 'short.gguf'))).rejects.toBeInstanceOf(IntegrityError);
  });

  it('accepts a header-valid file llama.cpp would refuse (that is the engine\'s job)', async () => {
    await writeBrokenGguf(join(dir, 'nokey.gguf'), 'missing-key');
    expect((await ggufFacts(join(dir, 'nokey.gguf'))).architecture).toBe('llama');
  });
});

describe('pickGguf', () => {
  it('matches --quant case-insensitively and without prefix collisions', async () => {
    await writeTinyGgufInto(dir, { quant: 'f16' });
    await writeTinyGgufInto(dir, { quant: 'q8_0' });
    await writeFile(join(dir, 'README.md'), 'hi');
    const picked = await pickGguf(dir, { quant: 'Q8_0' });
    expect(picked.path).toBe(join(dir, 'tiny-llama-q8_0.gguf'));
    expect(picked.quant).toBe('Q8_0');
    expect(picked.facts.quantization).toBe('Q8_0');
    expect(nameHasQuant('m-Q4_K_M.gguf', 'q4_k')).toBe(false);
    expect(nameHasQuant('m-Q4_K_M.gguf', 'q4_k_m')).toBe(true);
  });

  it('defaults to q6_k and lists what exists when it is missing', async () => {
    await writeTinyGgufInto(dir, { quant: 'f16' });
    await writeTinyGgufInto(dir, { quant: 'q8_0' });
    const error = await pickGguf(dir, { label: 'team/tiny:v1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).message).toBe('quantization q6_k not found in team/tiny:v1; it has F16, Q8_0');
    expect((error as NotFoundError).hint).toMatch(/--quant f16/);
  });

  it('takes the only quantization when none is asked for', async () => {
    await writeTinyGgufInto(dir, { quant: 'q8_0' });
    expect((await pickGguf(dir)).quant).toBe('Q8_0');
  });

  it('says when there is no GGUF at all', async () => {
    await writeFile(join(dir, 'model.safetensors'), 'x');
    await expect(pickGguf(dir, { label: 'v/m:1' })).rejects.toThrow('no GGUF file in v/m:1');
  });

  it('refuses a file whose name and header disagree', async () => {
    await writeTinyGguf(join(dir, 'sub', 'model-Q6_K.gguf'), { quant: 'f16' });
    await expect(pickGguf(dir)).rejects.toThrow(/named Q6_K but its header says F16/);
  });

  it('refuses a truncated pick', async () => {
    await writeBrokenGguf(join(dir, 'tiny-llama-f16.gguf'), 'truncated');
    await expect(pickGguf(dir, { quant: 'f16' })).rejects.toThrow(/truncated/);
  });

  it('picks the first shard of a split GGUF and checks every shard is there', async () => {
    const shards = await writeTinySplitGguf(join(dir, 'split'), { quant: 'q8_0' });
    const picked = await pickGguf(dir, { quant: 'q8_0' });
    expect(picked.path).toBe(shards[0]);
    expect(picked.files).toEqual(shards);
    expect(picked.facts.quantization).toBe('Q8_0');
    await rm(shards[1]!);
    await expect(pickGguf(dir, { quant: 'q8_0' })).rejects.toThrow(/shard 2 of 2 .* is missing/);
  });
});
