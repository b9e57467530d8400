// The layout tar reader on its own, with a real tar stream and a real folder: blobs land under their digest once
// they hash right, and a tar whose blobs would take more than the disk has free is refused before it writes them.
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { unpackLayoutTar } from '../../../src/core/oci/tar-source.js';
import { silentProgress } from '../../../src/core/progress.js';
import { StorageError } from '../../../src/lib/errors.js';
import { buildLayout, sha256, writeLayoutTar } from '../../e2e/oci-layouts.js';

describe('unpackLayoutTar', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aim-oci-tar-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const layout = buildLayout({
    configType: 'application/vnd.cncf.model.config.v1+json',
    config: {},
    layers: [{ mediaType: 'application/vnd.cncf.model.weight.v1.raw', bytes: Buffer.alloc(3 << 20, 7), annotations: { 'org.cncf.model.filepath': 'w.bin' } }],
  });
  const unpack = async (maxBlobBytes: number) => {
    await writeLayoutTar(join(dir, 'in.tar'), layout, 'blobs-first');
    const blobs = join(dir, 'out', 'blobs', 'sha256');
    await mkdir(blobs, { recursive: true });
    const task = silentProgress.begin('', 0);
    return { blobs, result: unpackLayoutTar(createReadStream(join(dir, 'in.tar')), blobs, 'in.tar', { maxTop: 4096, maxBlobBytes }, task) };
  };

  it('writes each blob under its digest when the disk has room', async () => {
    const { blobs, result } = await unpack(8 << 20);
    const source = await result;
    expect((await readdir(blobs)).sort()).toEqual(layout.files.slice(2).map(([name]) => name.slice('blobs/sha256/'.length)).sort());
    expect(await source.readTop('index.json', 4096)).toEqual(layout.files[1]![1]);
  });

  it('refuses a tar whose blobs need more than the disk has free, before writing the one that would not fit', async () => {
    const { blobs, result } = await unpack(1 << 20);
    await expect(result).rejects.toThrow(StorageError);
    await expect(result).rejects.toThrow(/in\.tar holds more than the 1\.0 MiB free/);
    const big = sha256(Buffer.alloc(3 << 20, 7)).slice('sha256:'.length);
    expect((await readdir(blobs)).filter((name) => name.startsWith(big))).toEqual([]); // not even a partial file
  });
});
