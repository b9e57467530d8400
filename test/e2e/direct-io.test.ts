// Push, pull and verify around the page cache (src/core/direct-io.ts), through the built CLI: byte-exact results
// with direct I/O on, and the same where the process cannot map the aligned memory it needs.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { CLI_PATH, createWorkspace, type Workspace } from '../helpers/cli.js';

const MiB = 1024 * 1024;
const run = promisify(execFile);

describe('direct I/O', () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    // Not a multiple of 4096, so the last block of the pulled file and of chunks is partial.
    await generateModel(ws.path('model'), { files: [{ path: 'weights.bin', size: 9 * MiB + 123 }], seed: 'direct' });
  });
  afterAll(() => ws.cleanup());

  it('pushes, pulls and verifies byte for byte under a 14 GB address-space limit (ulimit -v), where it falls back', async () => {
    // Each aligned buffer is a WebAssembly memory, which reserves about 10 GiB of address space: one fits here, not two.
    const aim = (args: string) =>
      run('bash', ['-c', `ulimit -v 14000000 && exec "${process.execPath}" "${CLI_PATH}" ${args} --json`], { cwd: ws.dir, env: { ...process.env, ...ws.env, NO_COLOR: '1' } });
    const pushed = JSON.parse((await aim('model push r m model --tag v1')).stdout);
    expect(pushed.bytesTransferred).toBeGreaterThan(9 * MiB);
    await aim(`model pull r m ${ws.path('limited')} --tag v1`);
    expect((await readFile(ws.path('limited', 'weights.bin'))).equals(await readFile(ws.path('model', 'weights.bin')))).toBe(true);
    const verified = JSON.parse((await aim('verify r')).stdout);
    expect(verified).toMatchObject({ ok: true, problems: [] });
    expect(verified.bytesChecked).toBeGreaterThan(9 * MiB);
  });

  it('pulls byte for byte with direct I/O on, and with AIM_DIRECT_IO=0', async () => {
    await ws.json(['model', 'push', 'r', 'm', 'model', '--tag', 'v2']);
    for (const [dest, env] of [['direct', {}], ['buffered', { AIM_DIRECT_IO: '0' }]] as const) {
      await ws.json(['model', 'pull', 'r', 'm', ws.path(dest), '--tag', 'v2'], { env });
      expect((await readFile(ws.path(dest, 'weights.bin'))).equals(await readFile(ws.path('model', 'weights.bin')))).toBe(true);
    }
  });

  it('reads a big file being pushed around the page cache to the same manifest as the usual reads, a partial last block too', async () => {
    // Over 16 MiB: the file goes through the chunking workers' windows, three of them here, the last one partial.
    await generateModel(ws.path('big'), { files: [{ path: 'weights.bin', size: 40 * MiB + 123 }], seed: 'direct-big' });
    const direct = await ws.json(['model', 'push', 'r', 'big', 'big', '--tag', 'direct', '--rehash']);
    const buffered = await ws.json(['model', 'push', 'r', 'big', 'big', '--tag', 'buffered', '--rehash'], { env: { AIM_DIRECT_IO: '0' } });
    expect(direct.digest).toBe(buffered.digest);
    await ws.json(['model', 'pull', 'r', 'big', ws.path('big-pulled'), '--tag', 'direct']);
    expect((await readFile(ws.path('big-pulled', 'weights.bin'))).equals(await readFile(ws.path('big', 'weights.bin')))).toBe(true);
  });
});
