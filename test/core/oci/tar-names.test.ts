// Rewriting the placeholder names of an exported tar (src/core/oci/tar-names.ts): only in the regular file at the
// path, never through a link put there since aim wrote it.
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rewriteTarNames } from '../../../src/core/oci/tar-names.js';

const root = await mkdtemp(join(tmpdir(), 'aim-tar-names-'));
afterAll(() => rm(root, { recursive: true, force: true }));

describe('rewriteTarNames', () => {
  it('refuses a link at the tar\'s path and leaves what it points at unchanged', async () => {
    const outside = join(root, 'outside');
    const bytes = Buffer.alloc(1024, 0x61);
    await writeFile(outside, bytes);
    await symlink(outside, join(root, 'export.tar'));
    await expect(rewriteTarNames(join(root, 'export.tar'), [{ offset: 0, placeholder: 'aaaa', name: 'model.bin' }])).rejects.toThrow(/symlink/);
    expect(await readFile(outside)).toEqual(bytes);
  });
});
