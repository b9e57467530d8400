// The pure parts of the ModelPack mapping: which layer type a file gets, how a parameter count is written, how an
// imported layer's media type unpacks.
import { describe, expect, it } from 'vitest';
import { layerKindOf, layerPacking } from '../../../src/core/oci/media-types.js';
import { paramSize } from '../../../src/core/oci/modelpack.js';

describe('ModelPack mapping', () => {
  it('gives each file the layer kind its name says, and marks a guess as untested', () => {
    const kinds = Object.fromEntries(
      ['model.gguf', 'w/model-00001-of-00002.safetensors', 'config.json', 'tokenizer.model', 'tok/tokenizer_config.json', 'merges.txt', 'README.md', 'LICENSE', 'docs/paper.pdf', 'run.py', 'train.ipynb', 'data/train.parquet', 'params.yaml', 'blob.xyz'].map((path) => [path, layerKindOf(path)]),
    );
    expect(kinds).toEqual({
      'model.gguf': { kind: 'weight', untested: false },
      'w/model-00001-of-00002.safetensors': { kind: 'weight', untested: false },
      'config.json': { kind: 'weight.config', untested: false },
      'tokenizer.model': { kind: 'weight.config', untested: false },
      'tok/tokenizer_config.json': { kind: 'weight.config', untested: false },
      'merges.txt': { kind: 'weight.config', untested: false },
      'README.md': { kind: 'doc', untested: false },
      LICENSE: { kind: 'doc', untested: false },
      'docs/paper.pdf': { kind: 'doc', untested: false },
      'run.py': { kind: 'code', untested: false },
      'train.ipynb': { kind: 'code', untested: false },
      'data/train.parquet': { kind: 'dataset', untested: false },
      'params.yaml': { kind: 'weight.config', untested: true },
      'blob.xyz': { kind: 'weight', untested: true },
    });
  });

  it('writes parameter counts as ModelPack paramSize: at most one decimal and a scale letter', () => {
    expect([500, 120_640, 1_000_000, 6_738_415_616, 70_553_706_496, 1.2e12].map(paramSize)).toEqual(['0.5K', '120.6K', '1M', '6.7B', '70.6B', '1.2T']);
    for (const n of [1, 999, 1234, 99_999_999, 2 ** 40]) expect(paramSize(n)).toMatch(/^\d+(\.\d)?[KMBTQ]$/);
  });

  it('unpacks ModelPack, KitOps and Docker layers by their media type, and knows zstd from the unknown', () => {
    expect(layerPacking('application/vnd.cncf.model.weight.v1.raw')).toEqual({ kind: 'raw' });
    expect(layerPacking('application/vnd.cncf.model.doc.v1.tar')).toEqual({ kind: 'tar', compression: 'none' });
    expect(layerPacking('application/vnd.cncf.model.weight.config.v1.tar+gzip')).toEqual({ kind: 'tar', compression: 'gzip' });
    expect(layerPacking('application/vnd.cncf.model.weight.v1.tar+zstd')).toBe('zstd');
    expect(layerPacking('application/vnd.kitops.modelkit.model.v1.tar+gzip')).toEqual({ kind: 'tar', compression: 'gzip' });
    expect(layerPacking('application/vnd.kitops.modelkit.docs.v1.tar')).toEqual({ kind: 'tar', compression: 'none' });
    expect(layerPacking('application/vnd.docker.ai.gguf.v3')).toEqual({ kind: 'raw' });
    expect(layerPacking('application/vnd.docker.ai.license')).toEqual({ kind: 'raw' });
    expect(layerPacking('application/vnd.oci.image.layer.v1.tar')).toBeUndefined();
    expect(layerPacking('application/vnd.cncf.model.weight.v1.rawx')).toBeUndefined();
  });
});
