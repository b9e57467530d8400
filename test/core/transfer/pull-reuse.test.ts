import { mkdir, mkdtemp, open, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../../src/backends/local.js';
import { pull } from '../../../src/core/transfer/pull.js';
import { push } from '../../../src/core/transfer/push.js';
import { Repository } from '../../../src/core/store/repository.js';
import { deriveFile, writeRandomFile } from '../../../fixtures/generate-model.js';

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

  it('reads unchanged chunks from the installed file in runs, and fetches those that changed on disk since', async () => {
    await mkdir(join(root, 'repo2'));
    const repo = new Repository('r2', new LocalBackend(join(root, 'repo2')));
    const size = 48 * 1024 * 1024;
    await writeRandomFile(join(root, 'w1', 'w.bin'), size, 'runs');
    await deriveFile(join(root, 'w1', 'w.bin'), join(root, 'w2', 'w.bin'), [{ kind: 'change', offset: 20 * 1024 * 1024, length: 4096 }], 'runs2');
    await push(repo, join(root, 'w1'), { model: 'm', tag: 'v1' });
    await push(repo, join(root, 'w2'), { model: 'm', tag: 'v2' });
    const dest = join(root, 'installed');
    await pull(repo, { model: 'm', tag: 'v1' }, dest);
    // Damage the installed copy behind aim's back: bytes in the middle, and its last 3 MiB gone.
    const handle = await open(join(dest, 'w.bin'), 'r+');
    await handle.write(Buffer.alloc(4096, 7), 0, 4096, 5 * 1024 * 1024);
    await handle.close();
    await truncate(join(dest, 'w.bin'), size - 3 * 1024 * 1024);

    // A file changed since aim installed it is not replaced unless forced (pull-keeps-user-files.test.ts).
    await expect(pull(repo, { model: 'm', tag: 'v2' }, dest)).rejects.toThrow(/w\.bin is not aim's and would be replaced/);
    const update = await pull(repo, { model: 'm', tag: 'v2' }, dest, { force: true });

    expect((await readFile(join(dest, 'w.bin'))).equals(await readFile(join(root, 'w2', 'w.bin')))).toBe(true);
    // The changed region, the damaged chunk and the lost tail: a few chunks of at most 2 MiB each.
    expect(update.bytesTransferred).toBeGreaterThan(3 * 1024 * 1024);
    expect(update.bytesTransferred).toBeLessThan(14 * 1024 * 1024);
    expect(update.bytesTransferred + update.bytesSkipped).toBe(size);
  });

  it('reads a run only where chunks lie back to back in the installed file, and fetches everything once it is gone', async () => {
    await mkdir(join(root, 'repo3'));
    const repo = new Repository('r3', new LocalBackend(join(root, 'repo3')));
    const size = 48 * 1024 * 1024;
    await writeRandomFile(join(root, 's1', 'w.bin'), size, 'repeat');
    const first = await push(repo, join(root, 's1'), { model: 'm', tag: 'v1' });
    // v2 repeats six of v1's chunks from the middle right after themselves, cut where v1 was cut: every chunk of v2
    // is one of v1's, but after the sixth comes the first again, which v1 holds elsewhere.
    const { chunks } = (await repo.getManifest(first.digest)).files[0]!;
    const starts = chunks.map((_, i) => chunks.slice(0, i).reduce((sum, chunk) => sum + chunk.size, 0));
    const from = starts[chunks.length >> 1]!;
    const to = starts[(chunks.length >> 1) + 6]!;
    const v1 = await readFile(join(root, 's1', 'w.bin'));
    const v2 = Buffer.concat([v1.subarray(0, to), v1.subarray(from, to), v1.subarray(to)]);
    await mkdir(join(root, 's2'));
    await writeFile(join(root, 's2', 'w.bin'), v2);
    const pushed = await push(repo, join(root, 's2'), { model: 'm', tag: 'v2' });
    expect(pushed.bytesTransferred).toBe(0);
    const dest = join(root, 'repeated');
    await pull(repo, { model: 'm', tag: 'v1' }, dest);

    const update = await pull(repo, { model: 'm', tag: 'v2' }, dest);

    expect((await readFile(join(dest, 'w.bin'))).equals(v2)).toBe(true);
    // A run that read on past the sixth chunk would take v1's next bytes for the first one, and fetch it.
    expect(update.bytesTransferred).toBe(0);
    expect(update.bytesSkipped).toBe(v2.length);

    await rm(join(dest, 'w.bin'));
    const again = await pull(repo, { model: 'm', tag: 'v1' }, dest);
    expect((await readFile(join(dest, 'w.bin'))).equals(v1)).toBe(true);
    expect(again.bytesTransferred).toBe(size);
  });
});
