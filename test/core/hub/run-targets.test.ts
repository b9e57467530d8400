import { describe, expect, it } from 'vitest';
import { parseHubAddress } from '../../../src/core/hub/run-targets.js';
import { UsageError } from '../../../src/lib/errors.js';

describe('parseHubAddress', () => {
  it('reads hf.co/ORG/REPO[:QUANT] in its spellings, and leaves REPO/MODEL references alone', () => {
    expect(parseHubAddress('hf.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q8_0')).toEqual({ hfRepo: 'Qwen/Qwen2.5-0.5B-Instruct-GGUF', quant: 'q8_0' });
    expect(parseHubAddress('https://huggingface.co/a/b')).toEqual({ hfRepo: 'a/b', quant: undefined });
    expect(parseHubAddress('team/tiny:v1')).toBeUndefined();
    expect(parseHubAddress('qwen2.5-7b-instruct')).toBeUndefined();
  });

  it.each(['hf.co/', 'hf.co/a', 'hf.co/a/b:', 'hf.co/a/b/c', 'huggingface.co/a b/c', 'hf.co/a/b:q4@x'])(
    'refuses %j as a hub address gone wrong, not as a reference to an aim repository',
    (text) => {
      expect(() => parseHubAddress(text)).toThrow(UsageError);
      expect(() => parseHubAddress(text)).toThrow(/does not name a Hugging Face repository/);
    },
  );
});
