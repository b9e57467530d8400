// Memory of the small-file path (src/core/transfer/pull-small.ts) must stay bounded by what it holds in flight, not by
// how many files of one chunk a version has: a repository may be cut with chunks of up to 64 MiB, and a file of one
// such chunk read whole from the copy an older version installed (or from a partial a killed pull left, or from a
// repository of loose chunks) holds all of it. Twenty-four files of 12 MiB, each its one chunk: built from v1's files
// on disk after a move, and fetched from loose chunks, the pull's peak RSS must stay far below their sum (288 MiB).
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRandomFile } from '../../../fixtures/generate-model.js';
import { createWorkspace, expectSameTree, type Workspace } from '../../helpers/cli.js';
import { runBounded } from '../../hostile/harness.js';

const MiB = 1024 * 1024;
const FILES = 24;
/** Far below the files' sum (288 MiB); a pull holding a few of them at once peaks at about 180 MiB. */
const BOUND_MIB = 260;

describe('memory of a pull of many files of one big chunk', () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ w: { type: 'local', path: `${dir}/wide` }, l: { type: 'local', path: `${dir}/loose` } }));
    // Chunks of 16 MiB at least: each file below that is one chunk. `l` keeps a file per chunk (format 1).
    const chunking = { minSize: 16 * MiB, avgSize: 16 * MiB, maxSize: 32 * MiB, seed: 1 };
    for (const [folder, format] of [['wide', 2], ['loose', 1]] as const) {
      await mkdir(ws.path(folder), { recursive: true });
      await writeFile(ws.path(folder, 'aim-repo.json'), JSON.stringify({ format, hash: 'blake3', chunking, createdAt: new Date().toISOString() }));
    }
    for (let i = 0; i < FILES; i++) await writeRandomFile(ws.path('model', 'a', `f${i}.bin`), 12 * MiB, `one-chunk:${i}`);
  });
  afterAll(() => ws.cleanup());

  it('builds them from the installed copies a few at a time', async () => {
    await ws.json(['push', 'w/m:v1', 'model']);
    await ws.json(['pull', 'w/m:v1', 'out']);
    await rename(ws.path('model', 'a'), ws.path('model', 'b'));
    await ws.json(['push', 'w/m:v2', 'model']);

    const pulled = await runBounded(ws, ['pull', 'w/m:v2', 'out', '--json'], { maxRssMiB: BOUND_MIB });
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(JSON.parse(pulled.stdout).bytesTransferred, 'every file is built from v1 on disk').toBe(0);
    await expectSameTree(ws.path('out'), ws.path('model'));
    expect(pulled.peakRssMiB, 'the peak was measured').toBeDefined();
  });

  it('fetches them from a repository of loose chunks a few at a time', async () => {
    await ws.json(['push', 'l/m:v1', 'model']);
    const pulled = await runBounded(ws, ['pull', 'l/m:v1', 'out-loose', '--json'], { maxRssMiB: BOUND_MIB });
    expect(pulled.code, pulled.stderr).toBe(0);
    await expectSameTree(ws.path('out-loose'), ws.path('model'));
    expect(pulled.peakRssMiB, 'the peak was measured').toBeDefined();
  });
});
