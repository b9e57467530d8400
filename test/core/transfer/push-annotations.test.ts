import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../../src/backends/local.js';
import { push } from '../../../src/core/transfer/push.js';
import { Repository } from '../../../src/core/store/repository.js';
import { resolveVersion } from '../../../src/core/store/resolve.js';
import { writeBrokenGguf, writeTinySplitGguf } from '../../../fixtures/tiny-gguf-variants.js';
import { tinyGgufFileName, writeTinyGguf } from '../../../fixtures/tiny-gguf.js';

const root = await mkdtemp(join(tmpdir(), 'aim-annot-'));
process.env.AIM_HOME = join(root, 'home');
afterAll(() => rm(root, { recursive: true, force: true }));

async function pushFolder(name: string, fill: (dir: string) => Promise<unknown>, annotations?: Record<string, string>) {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  await fill(dir);
  await mkdir(join(root, 'repo'), { recursive: true });
  const repo = new Repository('r', new LocalBackend(join(root, 'repo')));
  await push(repo, dir, { model: name, tag: 'v1', annotations });
  return (await resolveVersion(repo, { model: name, tag: 'v1' })).manifest.annotations;
}

describe('GGUF facts in manifest annotations', () => {
  it('records architecture, parameters, quantization and context length; user annotations win', async () => {
    const annotations = await pushFolder('one', (dir) => writeTinyGguf(join(dir, tinyGgufFileName('q8_0')), { quant: 'q8_0' }), {
      description: 'tiny',
      'gguf.context_length': '999',
    });
    expect(annotations).toMatchObject({ 'gguf.architecture': 'llama', 'gguf.quantization': 'Q8_0', 'gguf.context_length': '999', description: 'tiny' });
    expect(Number(annotations['gguf.parameter_count'])).toBeGreaterThan(100_000);
  });

  it('lists every quantization of a multi-quant version, split files included', async () => {
    const annotations = await pushFolder('many', async (dir) => {
      await writeTinyGguf(join(dir, tinyGgufFileName('f16')), { quant: 'f16' });
      await writeTinySplitGguf(join(dir, 'split'), { quant: 'q8_0', shards: 2 });
    });
    expect(annotations['gguf.quantization']!.split(',').sort()).toEqual(['F16', 'Q8_0']);
  });

  it('pushes a GGUF that does not parse, without annotations', async () => {
    const annotations = await pushFolder('broken', (dir) => writeBrokenGguf(join(dir, 'bad.gguf'), 'bad-magic'));
    expect(Object.keys(annotations).filter((key) => key.startsWith('gguf.'))).toEqual([]);
  });
});
