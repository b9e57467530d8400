// A pull whose small-file writer thread (src/core/transfer/small-file-writer.ts) dies, through the real CLI. The
// thread dies for real: its heap capped below what it needs to start (AIM_TEST_PULL_THREAD_HEAP_MIB, which caps the
// big file's chunk checker too, verified-runs.ts), or an error thrown outside its jobs once it has done one
// (AIM_TEST_WRITER_FAIL_AFTER), its work done and never reported; the big files' chunk checker likewise once it has
// checked and moved a run (AIM_TEST_CHECKER_FAIL_AFTER). Each case fails if such a pull ends as an internal error, leaves a file half made under a final name, or cannot be finished
// by running it again.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRandomFile } from '../../../fixtures/generate-model.js';
import { createWorkspace, expectSameTree, expectUserError, listFiles, type Workspace } from '../../helpers/cli.js';

const TOP_FOLDERS = ['configs', 'tokenizers', 'shards'];

/** `count` seeded files of 1 B to 4 KiB in three top-level folders, one at the top, and a file of several chunks. */
async function writeSmallTree(folder: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await writeRandomFile(join(folder, TOP_FOLDERS[i % 3]!, `d${i % 5}`, `f${i}.bin`), 1 + ((i * 7919) % 4096), `stopped:${i}`);
  await writeRandomFile(join(folder, 'README.bin'), 300, 'stopped:top');
  await writeRandomFile(join(folder, 'shards', 'big.bin'), 5 * 1024 * 1024, 'stopped:big');
}

describe('a pull whose writer thread dies', () => {
  let ws: Workspace;
  let model: string;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    model = ws.path('model');
    await writeSmallTree(model, 300);
    await ws.json(['model', 'push', 'r', 'm', model, '--tag', 'v1']);
  });
  afterAll(() => ws.cleanup());

  const pull = (dest: string, env?: NodeJS.ProcessEnv) => ws.run(['model', 'pull', 'r', 'm', dest, '--tag', 'v1'], { env });

  /** A pull stopped by the death of its `thread` ("file writer", "chunk checker"): exit 6, one plain line, the resume hint. */
  async function pullStopped(dest: string, thread: string, env: NodeJS.ProcessEnv): Promise<void> {
    const stopped = await pull(dest, env);
    expectUserError(stopped, new RegExp(`${thread} stopped`));
    expect(stopped.code).toBe(6);
    expect(stopped.stderr).toMatch(/hint: run the same pull again/);
  }

  /** The same pull run again completes, and DEST is the version. */
  async function expectResumed(dest: string): Promise<void> {
    const again = await pull(dest);
    expect(again.code, again.stderr).toBe(0);
    await expectVerified(dest);
  }

  async function expectVerified(dest: string): Promise<void> {
    await expectSameTree(dest, model);
    expect(await ws.json(['verify', dest])).toMatchObject({ ok: true });
  }

  it('writes and checks on the main thread when the threads cannot even start', async () => {
    const dest = ws.path('inline');
    const pulled = await pull(dest, { AIM_TEST_PULL_THREAD_HEAP_MIB: '1' });
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(pulled.stderr).toMatch(/writer thread did not start/);
    await expectVerified(dest);
  });

  it('stops with one plain line when it dies having written partials, with none under a final name; the same pull then completes', async () => {
    const dest = ws.path('after-write');
    await pullStopped(dest, 'file writer', { AIM_TEST_WRITER_FAIL_AFTER: 'write' });
    expect(await listFiles(dest)).toEqual([]);
    await expectResumed(dest);
  });

  it('stops with one plain line when it dies having renamed files it never reported; each is whole, and the same pull then completes', async () => {
    const dest = ws.path('after-install');
    // Folders DEST has already are filled file by file, and those renames are the writer thread's.
    for (const top of TOP_FOLDERS) await mkdir(join(dest, top), { recursive: true });
    await pullStopped(dest, 'file writer', { AIM_TEST_WRITER_FAIL_AFTER: 'install' });
    const placed = await listFiles(dest);
    expect(placed.length, 'the renames ran before the thread died').toBeGreaterThan(0);
    for (const path of placed) expect((await readFile(join(dest, path))).equals(await readFile(join(model, path))), path).toBe(true);
    await expectResumed(dest);
  });

  it("stops with one plain line when the big files' chunk checker dies once started, with no file under a final name; the same pull then completes", async () => {
    const dest = ws.path('checker');
    await pullStopped(dest, 'chunk checker', { AIM_TEST_CHECKER_FAIL_AFTER: '1' });
    expect(await listFiles(dest)).not.toContain('shards/big.bin');
    await expectResumed(dest);
  });
});
