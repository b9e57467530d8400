import { describe, expect, it } from 'vitest';
import { pathFilter } from '../../../src/core/transfer/path-filter.js';

const paths = ['model.gguf', 'q4/model-Q4_K_M.gguf', 'q8/deep/model-Q8_0.gguf', 'onnx/model.onnx', 'README.md', 'docs/onnx.md', '.hidden/x.bin'];
const select = (include: string[], exclude: string[] = []) => paths.filter(pathFilter({ include, exclude }));

describe('pathFilter', () => {
  it('matches a pattern without a slash at any depth', () => {
    expect(select(['*.gguf'])).toEqual(['model.gguf', 'q4/model-Q4_K_M.gguf', 'q8/deep/model-Q8_0.gguf']);
    expect(select(['*Q8_0*'])).toEqual(['q8/deep/model-Q8_0.gguf']);
  });

  it('anchors a pattern with a slash at the top, and ** crosses folders', () => {
    expect(select(['q8/*.gguf'])).toEqual([]);
    expect(select(['q8/**/*.gguf'])).toEqual(['q8/deep/model-Q8_0.gguf']);
    expect(select(['**/model.*'])).toEqual(['model.gguf', 'onnx/model.onnx']);
  });

  it('a pattern naming a folder selects everything under it', () => {
    expect(select([], ['onnx'])).toEqual(['model.gguf', 'q4/model-Q4_K_M.gguf', 'q8/deep/model-Q8_0.gguf', 'README.md', 'docs/onnx.md', '.hidden/x.bin']);
    expect(select(['q4/'])).toEqual(['q4/model-Q4_K_M.gguf']);
  });

  it('understands ?, [..] and {a,b}, and takes names literally otherwise', () => {
    expect(select(['q?/*.{gguf,onnx}'])).toEqual(['q4/model-Q4_K_M.gguf']);
    expect(select(['[RX]EADME.md'])).toEqual(['README.md']);
    expect(select(['model.gguf'])).toEqual(['model.gguf']);
    expect(select(['model+gguf'])).toEqual([]);
  });

  it('refuses patterns that could leave the folder', () => {
    expect(() => pathFilter({ include: ['../x'] })).toThrow(/has a "\.\." segment/);
    expect(() => pathFilter({ exclude: ['/etc/**'] })).toThrow(/is absolute/);
  });
});
