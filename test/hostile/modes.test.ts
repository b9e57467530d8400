// A manifest's file modes come from the repository, which may be hostile: the schema lets a mode hold any of the 12
// bits (0o7777), and a pull must never make a setuid, setgid or sticky file of them (a setuid program owned by whoever
// pulls, root in a container). Only the permission bits are kept, on every way a file is built: a small file written
// by the small-file writer's worker thread, a big file built chunk by chunk, and a copy of a file of the same content;
// and the umask of whoever pulls takes its bits from them, as cp and git do, so that a repository cannot make a
// teammate's files writable by other users.
import { execFile } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { digestOf } from '../../src/core/format/digest.js';
import { CLI_PATH, createWorkspace, type Workspace } from '../helpers/cli.js';

const MODES: Record<string, number> = { 'small.json': 0o6755, 'copy/small.json': 0o4777, 'big.bin': 0o7777, 'empty.txt': 0o1666 };
/** The umask the pull runs under: group write and every bit for others taken away. */
const UMASK = 0o027;

describe('file modes from a hostile manifest', () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    await generateModel(ws.path('model'), { files: [{ path: 'small.json', size: 700 }, { path: 'big.bin', size: 6 * 1024 * 1024 }, { path: 'empty.txt', size: 0 }], seed: 'modes' });
    await writeFile(ws.path('model', 'copy-of-small'), await readFile(ws.path('model', 'small.json')));
  });
  afterAll(() => ws.cleanup());

  /** Pushes the model and plants a version of it whose manifest gives each file its mode in MODES; its digest. */
  async function plantModes(): Promise<string> {
    const pushed = await ws.json(['push', 'r/m:v1', 'model']);
    const hex = pushed.digest.slice(7);
    const manifest = JSON.parse(await readFile(ws.path('repo', 'manifests', 'blake3', hex.slice(0, 2), hex), 'utf8'));
    for (const file of manifest.files) {
      if (file.path === 'copy-of-small') file.path = 'copy/small.json';
      file.mode = MODES[file.path];
    }
    manifest.files.sort((a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : 1));
    const bytes = Buffer.from(`${JSON.stringify(manifest)}\n`);
    const planted = (await digestOf(bytes)).slice(7);
    await mkdir(ws.path('repo', 'manifests', 'blake3', planted.slice(0, 2)), { recursive: true });
    await writeFile(ws.path('repo', 'manifests', 'blake3', planted.slice(0, 2), planted), bytes);
    const tag = JSON.parse(await readFile(ws.path('repo', 'models', 'm', 'tags', 'v1'), 'utf8'));
    await writeFile(ws.path('repo', 'models', 'm', 'tags', 'modes'), JSON.stringify({ ...tag, digest: `blake3:${planted}` }));
    return planted;
  }

  /** Runs `aim ...args` under UMASK. */
  async function runUnderUmask(args: string): Promise<void> {
    const command = `umask ${UMASK.toString(8).padStart(4, '0')} && exec "${process.execPath}" "${CLI_PATH}" ${args}`;
    await promisify(execFile)('sh', ['-c', command], { cwd: ws.dir, env: { ...process.env, ...ws.env } });
  }

  async function expectModes(folder: string): Promise<void> {
    for (const [path, mode] of Object.entries(MODES)) {
      const info = await stat(join(folder, ...path.split('/')));
      expect((info.mode & 0o7777).toString(8), path).toBe((mode & 0o777 & ~UMASK).toString(8));
    }
  }

  it('keep only the permission bits, less the umask', async () => {
    await plantModes();
    await runUnderUmask('pull r/m:modes out --json');
    await expectModes(ws.path('out'));
  });

  it('keep only the permission bits, less the umask, for a bundle pulled or installed', async () => {
    const planted = await plantModes();
    await ws.json(['bundle', 'r/kit:v1', `m@${planted}`]);
    await runUnderUmask('pull r/kit:v1 kit --json');
    await expectModes(ws.path('kit', 'm'));
    await runUnderUmask('install r/kit:v1 --json');
    await expectModes(join(ws.home, 'models', 'r', 'm', planted));
  });
});
