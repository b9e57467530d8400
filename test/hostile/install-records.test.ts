// AIM_HOME/installed as an attacker (or a failing disk) leaves it: every command that reads install records stays
// within its time and memory bounds, reports the bad record by name, writes nothing outside AIM_HOME, and keeps
// working for the good records.
import { execFileSync } from 'node:child_process';
import { mkdir, open, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTinyGgufInto } from '../../fixtures/tiny-gguf.js';
import { createWorkspace, type Workspace } from '../helpers/cli.js';
import { expectRefused, expectUnchanged, runBounded, snapshot } from './harness.js';

let ws: Workspace;
let records: string;
const digest = `blake3:${'ab'.repeat(32)}`;
const record = (fields: Record<string, unknown>) => JSON.stringify({ version: 1, repo: 'r', model: 'tiny', digest, installedAt: new Date().toISOString(), ...fields });

beforeAll(async () => {
  ws = await createWorkspace((dir) => ({ r: { type: 'local', path: join(dir, 'repo') } }));
  await writeTinyGgufInto(ws.path('src'), { quant: 'q8_0' });
  await ws.json(['push', 'r/tiny:v1', 'src']);
  await ws.json(['install', 'r/tiny:v1']);
  records = join(ws.home, 'installed', 'r', 'tiny');
  await writeFile(join(records, 'garbage.json'), '\u0000\u0001not json');
  const huge = await open(join(records, 'huge.json'), 'w');
  await huge.truncate(1024 ** 3); // sparse: a gigabyte that costs nothing on disk, and must cost nothing in memory
  await huge.close();
  execFileSync('mkfifo', [join(records, 'fifo.json')]);
  await writeFile(join(records, 'badtag.json'), record({ tag: 'bad tag' }));
  await writeFile(join(records, 'evil.json'), record({ tag: 'evil', repo: '..' }));
  await mkdir(join(ws.home, 'installed', 'r', '..hidden'), { recursive: true });
});
afterAll(() => ws.cleanup());

describe('hostile install records', () => {
  it('installed lists the good record and names each bad one, within bounds, changing nothing', async () => {
    const before = await snapshot(ws.dir);
    const result = await runBounded(ws, ['installed', '--json'], { maxRssMiB: 300 });
    expect(result.code).toBe(0);
    expect(result.json().models.map((m: { reference: string }) => m.reference)).toEqual(['r/tiny:v1']);
    for (const name of ['garbage', 'huge', 'fifo', 'badtag', 'evil']) expect(result.stderr).toMatch(new RegExp(`skipped .*${name}\\.json`));
    await expectUnchanged(ws.dir, before);
  });

  it('update goes on with the good record and says the bad ones could not be read', async () => {
    const before = await snapshot(ws.dir, ['aim-home']);
    const result = await runBounded(ws, ['update', '--json'], { maxRssMiB: 300 });
    expect(result.code).toBe(4);
    expect(result.json().updates).toMatchObject([{ reference: 'r/tiny:v1', status: 'up to date' }]);
    expect(result.stderr).toMatch(/5 install records could not be read/);
    await expectUnchanged(ws.dir, before, ['aim-home']);
  });

  it('run and inspect of a tag whose record is bad name the file; rm of it finds nothing installed', async () => {
    await expectRefused(ws, ['run', 'r/tiny:huge'], /huge\.json/, { maxRssMiB: 300 });
    await expectRefused(ws, ['run', 'r/tiny:fifo'], /fifo\.json/, { timeoutMs: 30_000 });
    // inspect steps over a damaged record: the repository still answers (here: no such tag).
    await expectRefused(ws, ['inspect', 'r/tiny:garbage'], /tag garbage of r\/tiny not found/);
    await expectRefused(ws, ['rm', 'r/tiny:evil'], /r\/tiny:evil is not installed/);
  });

  it("an installed folder's manifest that is not its version's is not believed: inspect asks the repository", async () => {
    const folder = (await ws.json(['installed'])).models[0].folder;
    const manifestPath = join(folder, '.aim', 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    manifest.annotations = { ...manifest.annotations, planted: 'yes' };
    await writeFile(manifestPath, JSON.stringify(manifest));
    const inspected = await runBounded(ws, ['inspect', 'r/tiny:v1', '--json']);
    expect(inspected.code).toBe(0);
    expect(inspected.json()).toMatchObject({ source: 'repository' });
    expect(inspected.json().annotations.planted).toBeUndefined();
  });
});

describe('aim rm never deletes through a link planted in AIM_HOME', () => {
  it.each(['models', 'models/r', 'models/r/tiny'])('a link at AIM_HOME/%s to a folder outside: refused plainly, nothing outside removed', async (linked) => {
    const parts = linked.split('/');
    const own = await createWorkspace((dir) => ({ r: { type: 'local', path: join(dir, 'repo') } }));
    try {
      await writeTinyGgufInto(own.path('src'), { quant: 'q8_0' });
      await own.json(['push', 'r/tiny:v1', 'src']);
      await own.json(['install', 'r/tiny:v1']);
      // The installed tree moved outside AIM_HOME and a link left in its place: what a planted link looks like.
      const inHome = join(own.home, ...parts);
      const outside = own.path('outside', ...parts);
      await mkdir(join(outside, '..'), { recursive: true });
      await rename(inHome, outside);
      await symlink(outside, inHome);
      const before = await snapshot(own.path('outside'));
      await expectRefused(own, ['rm', 'r/tiny:v1'], /is a symlink|not a folder/);
      await expectUnchanged(own.path('outside'), before);
      expect((await own.json(['installed'])).models.map((m: { reference: string }) => m.reference)).toEqual(['r/tiny:v1']);
    } finally {
      await own.cleanup();
    }
  });
});

describe('a flood of broken install records', () => {
  it('costs aim installed twenty warning lines and one count, while --json lists every one', async () => {
    const own = await createWorkspace((dir) => ({ r: { type: 'local', path: join(dir, 'repo') } }));
    try {
      const folder = join(own.home, 'installed', 'r', 'tiny');
      await mkdir(folder, { recursive: true });
      for (let i = 0; i < 500; i++) await writeFile(join(folder, `junk${i}.json`), 'not json');
      const result = await runBounded(own, ['installed', '--json']);
      expect(result.code, result.stderr).toBe(0);
      expect(result.json().problems).toHaveLength(500);
      const warnings = result.stderr.split('\n').filter((line) => line.startsWith('aim: warning:'));
      expect(warnings).toHaveLength(21);
      expect(warnings.at(-1)).toBe('aim: warning: skipped 480 more install records (--json lists them all)');
    } finally {
      await own.cleanup();
    }
  });
});
