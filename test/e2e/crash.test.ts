// kill -9 in the middle of a real push and a real pull (child processes of the built CLI), then the same command
// again: nothing half-written may be visible under a final name, and the rerun must finish the job moving less
// than everything. The model is big enough (512 MiB) that each transfer runs for a second or more on 2 cores.
import { mkdir, open, readdir, readFile, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { LocalBackend } from '../../src/backends/local.js';
import { digestOf } from '../../src/core/format/digest.js';
import { readPackFooter } from '../../src/core/store/packs.js';
import { createWorkspace, expectSameTree, killWhen, listFiles, signalWhen, type Workspace } from '../helpers/cli.js';

const MiB = 1024 * 1024;
const SIZE = 512 * MiB;
const TOTAL = SIZE + 4096;

async function filesUnder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

const isTemp = (path: string) => /\/\.[^/]+\.tmp$/.test(path);

describe('SIGKILL midway, then the same command again', () => {
  let ws: Workspace;
  let fileHex: string;
  let chunkSizes: number[];

  /** True once the pull's journal for weights.bin, on disk, vouches for at least `bytes` (and not yet for all). */
  const journalCovers = (journal: string, bytes: number) => async (): Promise<boolean> => {
    const text = await readFile(journal, 'utf8').catch(() => '');
    try {
      const { chunksDone, complete } = JSON.parse(text);
      return complete === false && chunkSizes.slice(0, chunksDone).reduce((sum, size) => sum + size, 0) >= bytes;
    } catch {
      return false;
    }
  };

  beforeAll(async () => {
    // r keeps a file per chunk, p gathers chunks into packs (a folder's default).
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo`, packs: false }, p: { type: 'local', path: `${dir}/packed` } }));
    await generateModel(ws.path('model'), { files: [{ path: 'weights.bin', size: SIZE }, { path: 'config.json', size: 4096 }], seed: 'crash' });
  });
  afterAll(() => ws.cleanup());

  it('push: leaves only verified objects under final names, and resumes without resending them', async () => {
    const blobs = ws.path('repo', 'blobs');
    const running = ws.start(['push', 'r/big:v1', 'model', '--json']);
    await killWhen(running, async () => (await filesUnder(blobs)).filter((path) => !isTemp(path)).length >= 80);

    // Every object under a final name hashes to its name; anything else is a dot-prefixed .tmp leftover.
    const stored = [...(await filesUnder(blobs)), ...(await filesUnder(ws.path('repo', 'manifests')))];
    const final = stored.filter((path) => !isTemp(path));
    expect(final.length).toBeGreaterThanOrEqual(80);
    for (const path of final) {
      const name = path.split('/').at(-1)!;
      expect(name, path).toMatch(/^[0-9a-f]{64}$/);
      expect(await digestOf(await readFile(path)), path).toBe(`blake3:${name}`);
    }
    // The tag is written last, so the killed push named no version.
    expect(await filesUnder(ws.path('repo', 'models'))).toEqual([]);
    expect((await ws.run(['pull', 'r/big:v1', 'nothing-yet'])).code).not.toBe(0);

    const resumed = await ws.json(['push', 'r/big:v1', 'model']);
    expect(resumed).toMatchObject({ tagOutcome: 'created', totalBytes: TOTAL });
    // At least the 80 chunks stored before the kill. Not from a minimum chunk size (the file's first 8 MiB is cut with
    // a 16 KiB one): this seeded file's 80 smallest chunks add up to 11.7 MB, so any 80 of them exceed the bound.
    expect(resumed.bytesSkipped).toBeGreaterThanOrEqual(80 * 128 * 1024);
    expect(resumed.bytesTransferred).toBeLessThan(TOTAL);
    expect(resumed.bytesTransferred + resumed.bytesSkipped).toBe(TOTAL);
    expect((await ws.json(['verify', 'r'])).ok).toBe(true);
    const inspected = await ws.json(['inspect', 'r/big:v1']);
    fileHex = inspected.files.find((f: { path: string }) => f.path === 'weights.bin').digest.slice(7);
    const file = inspected.manifest.files.find((f: { path: string }) => f.path === 'weights.bin');
    chunkSizes = file.chunks.map((chunk: { size: number }) => chunk.size);
  });

  it('push into packs: every pack under a final name holds whole chunks, and the rerun takes them back', async () => {
    const packs = ws.path('packed', 'packs');
    const finalPacks = async () => (await filesUnder(packs)).filter((path) => !isTemp(path));
    const running = ws.start(['push', 'p/big:v1', 'model', '--json']);
    await killWhen(running, async () => (await finalPacks()).length >= 3);

    // Killed before its index file: each pack reads whole from its own footer, and each chunk hashes to its digest.
    expect(await filesUnder(ws.path('packed', 'index'))).toEqual([]);
    const store = new LocalBackend(ws.path('packed'));
    let packedBytes = 0;
    for (const path of await finalPacks()) {
      const pack = path.split('/').at(-1)!;
      const key = `packs/${pack.slice(0, 2)}/${pack}`;
      const entries = await readPackFooter(store, pack, (await store.stat(key))!.size);
      for (const entry of entries) {
        expect(await digestOf(await store.getRange(key, entry.offset, entry.size)), key).toBe(entry.digest);
        packedBytes += entry.size;
      }
    }
    expect(packedBytes).toBeGreaterThanOrEqual(3 * 15 * MiB);

    const resumed = await ws.json(['push', 'p/big:v1', 'model']);
    expect(resumed).toMatchObject({ tagOutcome: 'created', totalBytes: TOTAL });
    expect(resumed.bytesSkipped).toBeGreaterThanOrEqual(packedBytes);
    expect(resumed.bytesTransferred + resumed.bytesSkipped).toBe(TOTAL);
    expect((await ws.json(['verify', 'p'])).ok).toBe(true);
  });

  it('pull: shows no final-named file until it is verified, and resumes from the journal', async () => {
    const partial = ws.path('out', '.aim', 'partial', fileHex);
    const running = ws.start(['pull', 'r/big:v1', 'out', '--json']);
    // The journal is written every 64 MiB: killed once it vouches for at least 128 MiB.
    await killWhen(running, journalCovers(`${partial}.journal`, 128 * MiB));

    expect(await listFiles(ws.path('out')), 'no final-named file after the kill').toEqual([]);
    expect((await listFiles(ws.path('out'), { includeAim: true })).some((path) => path.startsWith('.aim/partial/'))).toBe(true);

    // A journal update cut short by a kill leaves a temp file; the next complete pull clears it.
    const stale = ws.path('out', '.aim', 'partial', `.${fileHex}.journal.0123456789ab.tmp`);
    await writeFile(stale, '{"chunksDone":');
    await utimes(stale, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const resumed = await ws.json(['pull', 'r/big:v1', 'out']);
    expect(resumed.totalBytes).toBe(TOTAL);
    expect(resumed.bytesTransferred).toBeLessThan(TOTAL - 128 * MiB);
    // What the killed run left on disk counts as skipped: the summary adds up to the version's size.
    expect(resumed.bytesTransferred + resumed.bytesSkipped).toBe(TOTAL);
    await expectSameTree(ws.path('out'), ws.path('model'));
    expect(await listFiles(ws.path('out', '.aim', 'partial'), { includeAim: true })).toEqual([]);
  });

  it('pull: a resumed pull checks what the killed run wrote, and fetches a damaged chunk again', async () => {
    const partial = ws.path('damaged', '.aim', 'partial', fileHex);
    const journal = `${partial}.journal`;
    const running = ws.start(['pull', 'r/big:v1', 'damaged', '--json']);
    // Killed once the journal vouches for at least the first 64 MiB (and before it says the file is complete).
    await killWhen(running, journalCovers(journal, 64 * MiB));
    // Damage 4 KiB at 32 MiB, inside the part the journal claims is done.
    const handle = await open(partial, 'r+');
    await handle.write(Buffer.alloc(4096, 0xa5), 0, 4096, 32 * MiB);
    await handle.close();

    const resumed = await ws.json(['pull', 'r/big:v1', 'damaged']);
    await expectSameTree(ws.path('damaged'), ws.path('model'));
    expect(resumed.bytesTransferred + resumed.bytesSkipped).toBe(TOTAL);
    // Chunks before the damaged one were kept; it and the rest were fetched again.
    expect(resumed.bytesTransferred).toBeLessThan(TOTAL - 16 * MiB);
    expect(resumed.bytesTransferred).toBeGreaterThan(TOTAL - 33 * MiB);
  });

  it('pull: a journal that does not read as one starts the file over instead of trusting what is on disk', async () => {
    const partialFolder = ws.path('odd-journal', '.aim', 'partial');
    await mkdir(partialFolder, { recursive: true });
    const partial = join(partialFolder, fileHex);
    await writeFile(partial, '');
    await truncate(partial, SIZE); // the right size, all zeros
    await writeFile(`${partial}.journal`, '{}');
    const pulled = await ws.json(['pull', 'r/big:v1', 'odd-journal']);
    expect(pulled.bytesTransferred).toBe(TOTAL);
    await expectSameTree(ws.path('odd-journal'), ws.path('model'));
  });

  it('Ctrl-C (SIGINT): exits at once with a plain note, and the same command finishes the pull', async () => {
    const running = ws.start(['pull', 'r/big:v1', 'interrupted', '--json']);
    const partial = ws.path('interrupted', '.aim', 'partial', fileHex);
    const result = await signalWhen(running, journalCovers(`${partial}.journal`, 64 * MiB), 'SIGINT');
    expect(result.signal).toBe('SIGINT'); // ends by the signal itself, as a shell expects (exit status 130)
    expect(result.json()).toEqual({ error: { code: 'interrupted', exitCode: 130, message: expect.any(String), hint: expect.any(String) } });
    expect(result.stderr).toMatch(/aim: interrupted; nothing half-written is visible, run the same command again to resume/);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(await listFiles(ws.path('interrupted'))).toEqual([]);

    const resumed = await ws.json(['pull', 'r/big:v1', 'interrupted']);
    expect(resumed.bytesTransferred).toBeLessThanOrEqual(TOTAL - 64 * MiB); // the journal at 64 MiB was on disk
    await expectSameTree(ws.path('interrupted'), ws.path('model'));
  });
});
