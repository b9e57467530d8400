// aim copy from a source repository an attacker (or a damaged disk) wrote, through the real CLI under the harness's
// time and memory bound: the copy stops with one plain line naming what is wrong, the destination gets no tag, and
// nothing outside the destination changes.
import { readdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { createWorkspace, type Workspace } from '../helpers/cli.js';
import { readManifest } from '../helpers/repo-files.js';
import { expectRefused, expectUnchanged, snapshot } from './harness.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('aim copy from a hostile source', () => {
  let ws: Workspace;
  let digest: string;
  const blobFile = (chunk: string): string => join(ws.path('loose'), 'blobs', 'blake3', chunk.slice(7, 9), chunk.slice(7));

  beforeEach(async () => {
    ws = await createWorkspace((dir) => ({
      loose: { type: 'local', path: `${dir}/loose`, packs: false },
      packed: { type: 'local', path: `${dir}/packed` },
    }));
    await generateModel(ws.path('src'), { seed: 'hostile-copy', files: [{ path: 'w.bin', size: 300 * KiB }] });
    digest = (await ws.json(['push', 'loose/m:v1', 'src'])).digest;
  });
  afterEach(() => ws.cleanup());

  // A chunk's size is known from its manifest, and no chunk is larger than the format allows: a longer object is
  // read no further than that, however long it is (reading it whole held 900 MiB in memory before any check).
  it('a damaged loose chunk grown to 900 MiB (sparse) is refused without being read whole', async () => {
    const [file] = (await readManifest(ws.path('loose'), digest)).files;
    const blob = blobFile(file!.chunks[0]!.digest);
    await writeFile(blob, 'X', { flag: 'r+' });
    await truncate(blob, 900 * MiB);
    const before = await snapshot(ws.dir, ['packed', 'aim-home']);
    await expectRefused(ws, ['copy', 'loose/m:v1', 'packed'], /chunk blake3:[0-9a-f]{64} is corrupt in repository loose/, { maxRssMiB: 300 });
    expect((await ws.run(['inspect', 'packed/m:v1'])).code).toBe(3);
    await expectRefused(ws, ['pull', 'loose/m:v1', 'dest'], /^aim: error: blobs\/blake3\/[0-9a-f]{2}\/[0-9a-f]{64} in .*loose is \d+ bytes, more than/, { maxRssMiB: 300 });
    expect((await readdir(ws.path('dest')).catch(() => [] as string[])).filter((name) => name !== '.aim')).toEqual([]);
    await expectUnchanged(ws.dir, before, ['packed', 'aim-home', 'dest']);
  });
});
