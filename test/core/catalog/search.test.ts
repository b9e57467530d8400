import { describe, expect, it } from 'vitest';
import { passesFilters, scoreEntry } from '../../../src/core/catalog/search.js';
import type { CatalogEntry } from '../../../src/core/format/schemas/catalog.js';

const entry = (model: string, more: Partial<CatalogEntry> = {}): CatalogEntry => ({
  format: 1,
  kind: 'model',
  model,
  updatedAt: new Date(0).toISOString(),
  quantizations: [],
  annotations: {},
  latest: { tag: 'latest', digest: `blake3:${'ab'.repeat(32)}` as CatalogEntry['latest']['digest'], size: 1000, files: 1 },
  tags: {},
  ...more,
});

const rank = (query: string, entries: CatalogEntry[]): string[] =>
  entries
    .map((e) => ({ model: e.model, scored: scoreEntry(e, query) }))
    .filter((e) => e.scored)
    .sort((a, b) => b.scored!.score - a.scored!.score || a.model.localeCompare(b.model))
    .map((e) => e.model);

describe('search scoring', () => {
  const entries = [
    entry('qwen'),
    entry('qwen2.5-7b-instruct', { quantizations: ['Q4_K_M', 'Q8_0'], architecture: 'qwen2' }),
    entry('deepseek-qwen-distill'),
    entry('myqwenfork'),
    entry('llama-3', { description: 'Not Qwen, but compared with it', annotations: { family: 'llama' } }),
    entry('phi', { annotations: { base: 'qwen-like' } }),
  ];

  it('ranks exact name > name prefix > word of a name > inside a name > description > annotation', () => {
    expect(rank('qwen', entries)).toEqual(['qwen', 'qwen2.5-7b-instruct', 'deepseek-qwen-distill', 'myqwenfork', 'llama-3', 'phi']);
    expect(scoreEntry(entries[4]!, 'qwen')!.match).toBe('description');
    expect(scoreEntry(entries[5]!, 'qwen')!.match).toBe('annotation');
  });

  it('needs every word of the query to match, and adds their scores', () => {
    expect(rank('qwen q4_k_m', entries)).toEqual(['qwen2.5-7b-instruct']);
    expect(scoreEntry(entries[1]!, 'qwen q4_k_m')).toEqual({ score: 80 + 40, match: 'name-prefix' });
    expect(rank('QWEN2.5-7B-INSTRUCT', entries)[0]).toBe('qwen2.5-7b-instruct');
    expect(rank('mistral', entries)).toEqual([]);
    expect(rank('   ', entries)).toEqual([]);
  });

  it('filters by architecture, quantization and size, ignoring case', () => {
    expect(passesFilters(entries[1]!, { arch: 'QWEN2', quant: 'q8_0', maxSize: 1000 })).toBe(true);
    expect(passesFilters(entries[1]!, { quant: 'Q6_K' })).toBe(false);
    expect(passesFilters(entries[1]!, { maxSize: 999 })).toBe(false);
    expect(passesFilters(entries[0]!, { arch: 'llama' })).toBe(false);
  });
});
