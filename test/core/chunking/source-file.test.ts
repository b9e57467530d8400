// Opening a big file being pushed (src/core/chunking/source-file.ts): only a regular file, never through a link at its
// name, whichever way it is then read (around the page cache or through it).
import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { openSource, readSource } from '../../../src/core/chunking/source-file.js';
import { allowDirectIo } from '../../../src/lib/direct-io.js';

const root = await mkdtemp(join(tmpdir(), 'aim-source-'));
afterAll(async () => {
  allowDirectIo(true);
  await rm(root, { recursive: true, force: true });
});

const data = Buffer.alloc(3 * 4096 + 17, 9);
await writeFile(join(root, 'weights.bin'), data);
await symlink(join(root, 'weights.bin'), join(root, 'link.bin'));
await promisify(execFile)('mkfifo', [join(root, 'fifo.bin')]);

describe.each([
  ['direct I/O allowed', true],
  ['direct I/O off', false],
])('openSource, %s', (_, direct) => {
  it.each([true, false])('reads the regular file whole (aligned reads: %s)', async (aligned) => {
    allowDirectIo(direct);
    const source = await openSource(join(root, 'weights.bin'), aligned);
    try {
      const target = Buffer.alloc(4 * 4096);
      expect(await readSource(source, target, 0)).toBe(data.length);
      expect(target.subarray(0, data.length).equals(data)).toBe(true);
      expect(source.size).toBe(data.length);
    } finally {
      await source.handle.close();
    }
  });

  it.each([
    ['a link', 'link.bin', /symlink/],
    ['a FIFO', 'fifo.bin', /FIFO/],
  ])('refuses %s at the name, without blocking', async (_, name, message) => {
    allowDirectIo(direct);
    for (const aligned of [true, false]) await expect(openSource(join(root, name), aligned)).rejects.toThrow(message);
  });
});
