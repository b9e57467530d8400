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
import { builtModule, canHideProc, runWithoutProc } from '../../helpers/without-proc.js';

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

// Without /proc (a container or chroot that does not mount it) the descriptor cannot be reopened through
// /proc/self/fd: a direct read the file system refuses must still fall back to the usual reads, by the file's name.
const sourceModule = builtModule('core/chunking/source-file.js');

describe.runIf(canHideProc)('readSource without /proc', () => {
  it('falls back to the usual reads when a direct read is refused', async () => {
    allowDirectIo(true);
    const path = join(root, 'weights.bin');
    // A target one byte off a block boundary: O_DIRECT refuses the read (EINVAL).
    const script = `
      import { readFileSync } from 'node:fs';
      import { openSource, readSource } from ${JSON.stringify(sourceModule)};
      const source = await openSource(${JSON.stringify(path)}, true);
      const target = Buffer.alloc(8 * 4096).subarray(1);
      const read = await readSource(source, target, 0);
      console.log(JSON.stringify({ block: source.block, same: target.subarray(0, read).equals(readFileSync(${JSON.stringify(path)})) }));`;
    const stdout = await runWithoutProc(script);
    expect(JSON.parse(stdout)).toEqual({ block: 1, same: true });
  });

  it('refuses a file whose name leads to another file by then', async () => {
    allowDirectIo(true);
    const path = join(root, 'replaced.bin');
    await writeFile(path, data);
    await writeFile(`${path}.new`, Buffer.alloc(data.length, 1));
    const script = `
      import { renameSync } from 'node:fs';
      import { openSource, readSource } from ${JSON.stringify(sourceModule)};
      const source = await openSource(${JSON.stringify(path)}, true);
      renameSync(${JSON.stringify(`${path}.new`)}, ${JSON.stringify(path)});
      const error = await readSource(source, Buffer.alloc(8 * 4096).subarray(1), 0).then(() => undefined, (error) => error);
      console.log(JSON.stringify({ message: error?.message, exitCode: error?.exitCode }));`;
    const stdout = await runWithoutProc(script);
    expect(JSON.parse(stdout)).toEqual({ message: `${path} was replaced while it was being pushed`, exitCode: 5 });
  });
});
