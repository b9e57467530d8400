import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/lib/errors.js';
import { BUILTIN_CATALOG, buildCatalog, resolveFriendlyName, suggestNames } from '../../../src/core/serve/catalog.js';

describe('catalog', () => {
  it('knows the PRD model out of the box', () => {
    expect(resolveFriendlyName('qwen2.5-7b-instruct')).toEqual({
      name: 'qwen2.5-7b-instruct', title: 'Qwen 2.5 7B Instruct', hfRepo: 'Qwen/Qwen2.5-7B-Instruct-GGUF', quant: 'q6_k',
    });
    expect(resolveFriendlyName('team/tiny:v1')).toBeUndefined();
  });

  it('is extended and overridden by the config', () => {
    const models = {
      tiny: 'team/tiny:v1',
      'qwen2.5-7b-instruct': { ref: 'team/qwen:q6', hf: 'Qwen/Qwen2.5-7B-Instruct-GGUF', quant: 'Q6_K', title: 'Qwen' },
      llama: 'hf:bartowski/Llama-3.2-1B-Instruct-GGUF',
    };
    expect(resolveFriendlyName('tiny', models)).toEqual({ name: 'tiny', title: 'Tiny', ref: 'team/tiny:v1' });
    expect(resolveFriendlyName('qwen2.5-7b-instruct', models)).toMatchObject({ ref: 'team/qwen:q6', quant: 'q6_k', title: 'Qwen' });
    expect(resolveFriendlyName('llama', models)?.hfRepo).toBe('bartowski/Llama-3.2-1B-Instruct-GGUF');
  });

  it('collects every problem into one ConfigError', () => {
    const error = (() => {
      try {
        buildCatalog({ a: 'nope', b: { quant: 'q4' }, c: 3 }, 'x.yaml');
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.message).toMatch(/^x\.yaml: models\.a: .*; models\.b: needs ref .*; models\.c: must be/);
  });
});

describe('suggestNames', () => {
  const names = [...buildCatalog().keys()];
  it('offers the closest built-in names for a typo, nearest first, at most three', () => {
    expect(suggestNames('qwen2.5-7b-instrct', names)[0]).toBe('qwen2.5-7b-instruct');
    expect(suggestNames('lama-3.2-1b-instruct', names)[0]).toBe('llama-3.2-1b-instruct');
    expect(suggestNames('qwen', names)).toHaveLength(3);
  });
  it('offers nothing for a name close to none', () => {
    expect(suggestNames('stable-diffusion-xl', names)).toEqual([]);
  });
  it('every built-in names a hub repository and a quantization', () => {
    for (const entry of BUILTIN_CATALOG) expect(entry).toMatchObject({ hfRepo: expect.stringMatching(/^[\w.-]+\/[\w.-]+-GGUF$/), quant: expect.stringMatching(/^(q\d_k(_m)?|q8_0)$/) });
  });
});
