// The stat cache is read back from AIM_HOME, which a damaged disk, a crash or a clumsy script can leave with any bytes.
// An entry whose chunk list does not describe a file of the size it was recorded for cannot be a push's word for that
// file: taking it would commit a version whose file is cut short (its chunks add up to less), or one no pull accepts
// (its chunks add up to something else than its size). Through the real CLI, with the cache file edited by hand.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../../fixtures/generate-model.js';
import { createWorkspace, expectSameTree, expectUserError, type Workspace } from '../../helpers/cli.js';

interface CachedChunk {
  digest: string;
  size: number;
}

describe('stat cache entries that do not add up', () => {
  let ws: Workspace;
  let cacheFile: string;
  let pristine: string;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    await generateModel(ws.path('model'), { files: [{ path: 'weights.bin', size: 3 * 1024 * 1024 }, { path: 'config.json', size: 200 }], seed: 'stat-cache-entries' });
    await ws.json(['push', 'r/m:v1', 'model']);
    const folder = ws.path('aim-home', 'cache', 'stat');
    cacheFile = join(folder, (await readdir(folder))[0]!);
    pristine = await readFile(cacheFile, 'utf8');
  });
  afterAll(() => ws.cleanup());

  /** Pushes `tag` with the weights' cache entry changed by `edit`, and pulls it back. */
  async function pushWithEntry(tag: string, edit: (file: { size: number; chunks: CachedChunk[] }) => void): Promise<void> {
    const entries = JSON.parse(pristine);
    const entry = entries[ws.path('model', 'weights.bin')];
    expect(entry.file.chunks.length, 'the weights are cut in several chunks').toBeGreaterThan(1);
    edit(entry.file);
    await writeFile(cacheFile, JSON.stringify(entries));
    await ws.json(['push', `r/m:${tag}`, 'model']);
    await ws.json(['pull', `r/m:${tag}`, `out-${tag}`]);
    await expectSameTree(ws.path(`out-${tag}`), ws.path('model'));
  }

  it('does not take an entry whose chunks and file size are both cut short', async () => {
    await pushWithEntry('short', (file) => {
      const last = file.chunks.pop()!;
      file.size -= last.size;
    });
  });

  it('does not take an entry whose chunks add up to another size than its file', async () => {
    await pushWithEntry('uneven', (file) => {
      file.chunks.pop();
    });
  });

  it('does not take an entry whose file has another size than the one recorded', async () => {
    await pushWithEntry('bigger', (file) => {
      file.size += 1;
      file.chunks.at(-1)!.size += 1;
    });
  });
});

describe('stat cache entries naming chunks the repository lacks', () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    await generateModel(ws.path('model'), { files: [{ path: 'weights.bin', size: 3 * 1024 * 1024 }], seed: 'stat-cache-lacking' });
  });
  afterAll(() => ws.cleanup());

  it('never commit a version that names a chunk nowhere in the repository', async () => {
    await ws.json(['push', 'r/m:v1', 'model']);
    const folder = ws.path('aim-home', 'cache', 'stat');
    const cacheFile = join(folder, (await readdir(folder))[0]!);
    const entries = JSON.parse(await readFile(cacheFile, 'utf8'));
    // A damaged entry: one chunk's digest changed, sizes kept, and still vouched for by v1's manifest.
    entries[ws.path('model', 'weights.bin')].file.chunks[0].digest = `blake3:${'cd'.repeat(32)}`;
    await writeFile(cacheFile, JSON.stringify(entries));
    expectUserError(await ws.run(['push', 'r/m:v2', 'model']), /weights\.bin is in no pack of r/);
    expect((await ws.run(['verify', 'r', 'm:v2'])).code, 'no tag v2 was written').not.toBe(0);

    // --rehash reads the file, and its entry is written again: a plain push after it takes the right chunks.
    await ws.json(['push', 'r/m:v2', 'model', '--rehash']);
    await ws.json(['push', 'r/m:v3', 'model']);
    for (const tag of ['v2', 'v3']) expect((await ws.json(['verify', 'r', `m:${tag}`])).problems).toEqual([]);
  });
});
