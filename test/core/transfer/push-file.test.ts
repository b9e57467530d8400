// What a push records for files it reads ahead whole: a file that is one chunk is hashed once (its digest is its
// chunk's), and every digest must still be BLAKE3 of the bytes it names, checked here by hash-wasm on its own.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blake3 } from 'hash-wasm';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../../src/backends/local.js';
import { Repository } from '../../../src/core/store/repository.js';
import { pull } from '../../../src/core/transfer/pull.js';
import { push } from '../../../src/core/transfer/push.js';

const root = await mkdtemp(join(tmpdir(), 'aim-push-file-'));
process.env.AIM_HOME = join(root, 'home');
afterAll(() => rm(root, { recursive: true, force: true }));

const KiB = 1024;
const MiB = 1024 * KiB;
const blake3Of = async (bytes: Uint8Array): Promise<string> => `blake3:${await blake3(bytes, 256)}`;

describe('pushing files read ahead whole', () => {
  it('records each file by the BLAKE3 of its bytes: empty, tiny and one-chunk files, and a file of several chunks', async () => {
    const source = join(root, 'src');
    await mkdir(join(source, 'sub'), { recursive: true });
    const files: Record<string, Buffer> = {
      'empty': Buffer.alloc(0),
      'one-byte': Buffer.from('x'),
      'sub/config.json': Buffer.from(JSON.stringify({ hidden_size: 4096 })),
      'sub/8k.bin': randomBytes(8 * KiB),
      'sub/same-as-8k.bin': Buffer.alloc(0), // filled below: a chunk repeated across files
      'below-min-chunk.bin': randomBytes(200 * KiB),
      'several-chunks.bin': randomBytes(3 * MiB + 123), // under the read-ahead limit (4 MiB), cut in memory
    };
    files['sub/same-as-8k.bin'] = files['sub/8k.bin']!;
    for (const [path, bytes] of Object.entries(files)) await writeFile(join(source, path), bytes);
    await mkdir(join(root, 'repo'));
    const repo = new Repository('r', new LocalBackend(join(root, 'repo')), 8, true);

    const pushed = await push(repo, source, { model: 'm', tag: 'v1' });
    const manifest = await repo.getManifest(pushed.digest);

    expect(manifest.files.map((file) => file.path).sort()).toEqual(Object.keys(files).sort());
    for (const file of manifest.files) {
      const bytes = files[file.path]!;
      expect(file.size).toBe(bytes.length);
      expect(file.digest).toBe(await blake3Of(bytes));
      let offset = 0;
      for (const chunk of file.chunks) {
        expect(chunk.digest).toBe(await blake3Of(bytes.subarray(offset, offset + chunk.size)));
        offset += chunk.size;
      }
      expect(offset).toBe(bytes.length);
    }
    const chunksOf = (path: string): number => manifest.files.find((file) => file.path === path)!.chunks.length;
    expect(chunksOf('empty')).toBe(0);
    expect(chunksOf('sub/8k.bin')).toBe(1);
    expect(chunksOf('several-chunks.bin')).toBeGreaterThan(1);

    await pull(repo, { model: 'm', tag: 'v1' }, join(root, 'dest'));
    for (const [path, bytes] of Object.entries(files)) expect((await readFile(join(root, 'dest', path))).equals(bytes)).toBe(true);
  });
});
