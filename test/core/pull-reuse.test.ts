import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../src/backends/local.js';
import { pull } from '../../src/core/pull.js';
import { push } from '../../src/core/push.js';
import { Repository } from '../../src/core/repository.js';
import { deriveFile, writeRandomFile } from '../../fixtures/generate-model.js';

const root = await mkdtemp(join(tmpdir(), 'aim-reuse-'));
process.env.AIM_HOME = join(root, 'home');
afterAll(() => rm(root, { recursive: true, force: true }));

describe('pull reuses chunks from other folders aim pulled', () => {
  it('fetches only the changed chunks of a new version pulled into a new folder', async () => {
    await mkdir(join(root, 'repo'));
    const repo = new Repository('r', new LocalBackend(join(root, 'repo')));
    const size = 24 * 1024 * 1024;
    await writeRandomFile(join(root, 'v1', 'w.bin'), size, 'reuse');
    await deriveFile(join(root, 'v1', 'w.bin'), join(root, 'v2', 'w.bin'), [{ kind: 'insert', offset: 4096, length: 1024 }], 'reuse2');
    await push(repo, join(root, 'v1'), { model: 'm', tag: 'v1' });
    await push(repo, join(root, 'v2'), { model: 'm', tag: 'v2' });

    await pull(repo, { model: 'm', tag: 'v1' }, join(root, 'a'));
    const cold = await pull(repo, { model: 'm', tag: 'v2' }, join(root, 'cold'));
    const warm = await pull(repo, { model: 'm', tag: 'v2' }, join(root, 'b'), { reuseFrom: [join(root, 'a'), join(root, 'nothing-here')] });

    expect(cold.bytesTransferred).toBe(size + 1024);
    expect(warm.bytesTransferred).toBeLessThan(8 * 1024 * 1024);
    expect(warm.bytesSkipped).toBeGreaterThan(size - 8 * 1024 * 1024);
    expect((await readFile(join(root, 'b', 'w.bin'))).equals(await readFile(join(root, 'v2', 'w.bin')))).toBe(true);
  });
});
