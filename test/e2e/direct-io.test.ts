// Push, pull and verify around the page cache (src/core/direct-io.ts), through the built CLI: byte-exact results
// with direct I/O on, and the same where the process cannot map the aligned memory it needs.
import { execFile } from 'node:child_process';
import { readFile, statfs } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { CLI_PATH, createWorkspace, type Workspace } from '../helpers/cli.js';

const MiB = 1024 * 1024;
/** statfs types of ext2/3/4, xfs, btrfs and f2fs: where aim reads and writes big files around the page cache. */
const directFileSystems = new Set([0xef53, 0x58465342, 0x9123683e, 0xf2f52010]);
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

  it('reads a big file being pushed around the page cache, or through it when it is cached, to the same manifest as the usual reads', async () => {
    // Over 16 MiB: the file goes through the chunking workers' windows, three of them here, the last one partial.
    await generateModel(ws.path('big'), { files: [{ path: 'weights.bin', size: 40 * MiB + 123 }], seed: 'direct-big' });
    const file = ws.path('big', 'weights.bin');
    const pushed = async (tag: string, env: NodeJS.ProcessEnv) => {
      const result = await ws.run(['model', 'push', 'r', 'big', 'big', '--tag', tag, '--rehash', '--json'], { env: { AIM_LOG: 'debug', ...env } });
      expect(result.code, result.stderr).toBe(0);
      return { digest: result.json().digest as string, read: /source opened .*read=(\w+)/.exec(result.stderr)?.[1] };
    };
    await run('sync', [file]);
    await run('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
    const uncached = await pushed('direct', {});
    await readFile(file);
    const cached = await pushed('cached', {});
    const usual = await pushed('buffered', { AIM_DIRECT_IO: '0' });
    expect(uncached.digest).toBe(usual.digest);
    expect(cached.digest).toBe(usual.digest);
    // Where the file system takes O_DIRECT (ext4, xfs, btrfs, f2fs), a file the cache does not hold is read around it
    // and one it holds through it (around it too where util-linux's fincore, which tells, is missing); elsewhere
    // neither is read directly. AIM_DIRECT_IO=0 never asks.
    const takesDirect = directFileSystems.has((await statfs(ws.dir)).type);
    const haveFincore = await run('fincore', ['--version']).then(() => true, () => false);
    expect(haveFincore || !process.env.CI, 'CI installs util-linux-extra').toBe(true);
    const expected = takesDirect ? ['direct', haveFincore ? 'cached' : 'direct', undefined] : [undefined, undefined, undefined];
    expect([uncached.read, cached.read, usual.read]).toEqual(expected);
    await ws.json(['model', 'pull', 'r', 'big', ws.path('big-pulled'), '--tag', 'direct']);
    expect((await readFile(ws.path('big-pulled', 'weights.bin'))).equals(await readFile(file))).toBe(true);
  });
});
