import { describe, expect, it } from 'vitest';
import { ggufShardFileName, ggufShardName, isFirstGgufFile } from '../../src/serving/gguf-shard-name.js';
import { selectGgufFiles } from '../../src/core/serve/gguf-pick.js';

describe('GGUF shard names', () => {
  it('reads the shard and the total, whatever the case of the extension', () => {
    expect(ggufShardName('Qwen2.5-7B-Instruct-Q6_K-00002-of-00003.gguf')).toEqual({ prefix: 'Qwen2.5-7B-Instruct-Q6_K', shard: 2, total: 3 });
    expect(ggufShardName('big-00001-of-00012.GGUF')).toEqual({ prefix: 'big', shard: 1, total: 12 });
    expect(ggufShardName('model-q6_k.gguf')).toBeUndefined();
    expect(ggufShardName('model-00001-of-00002.bin')).toBeUndefined();
    expect(ggufShardName('model-1-of-2.gguf')).toBeUndefined();
  });

  it('writes the names it reads', () => {
    expect(ggufShardFileName('m-Q4_K_M', 3, 12)).toBe('m-Q4_K_M-00003-of-00012.gguf');
    expect(ggufShardName(ggufShardFileName('m', 3, 12))).toEqual({ prefix: 'm', shard: 3, total: 12 });
  });

  it('takes an unsplit file or the first shard as the one to read', () => {
    expect(isFirstGgufFile('m-q6_k.gguf')).toBe(true);
    expect(isFirstGgufFile('m-00001-of-00002.gguf')).toBe(true);
    expect(isFirstGgufFile('m-00002-of-00002.gguf')).toBe(false);
    expect(isFirstGgufFile('README.md')).toBe(false);
  });

  it('groups a split GGUF with its shards in order, and names a missing one', () => {
    const names = ['m-Q6_K-00002-of-00002.gguf', 'm-Q6_K-00001-of-00002.gguf', 'm-Q4_K_M.gguf'];
    expect(selectGgufFiles(names, { quant: 'q6_k' }).files).toEqual(['m-Q6_K-00001-of-00002.gguf', 'm-Q6_K-00002-of-00002.gguf']);
    expect(() => selectGgufFiles(names.slice(1), { quant: 'q6_k' })).toThrow('shard 2 of 2 (m-Q6_K-00002-of-00002.gguf) is missing');
  });
});
