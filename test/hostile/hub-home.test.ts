// What `aim run hf.co/...` finds planted in AIM_HOME/hub-downloads and AIM_HOME/hub-repo: a link where a journal, a
// lock or a folder should be, a folder, a FIFO. Never followed, never a hang: a plain error naming the path, or (for
// a lock, which aim makes and removes) the link removed and replaced; nothing outside AIM_HOME changes.
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTinyGguf } from '../../fixtures/tiny-gguf.js';
import { createWorkspace, type Workspace } from '../helpers/cli.js';
import { HubStandIn } from '../helpers/hub-stand-in.js';
import { expectRefused, expectUnchanged, runBounded, snapshot } from './harness.js';

const REPO = 'planted-org/planted-GGUF';
const FOLDER = ['hub-downloads', 'planted-org--planted-gguf', 'q8_0'];
const JOURNAL = 'planted-q8_0.gguf.chunks';
const SERVE = ['run', `hf.co/${REPO}`, '--threads', '1', '--ctx-size', '256'];

let hub: HubStandIn;
const workspaces: Workspace[] = [];

beforeAll(async () => {
  hub = await HubStandIn.start();
  hub.publish(REPO, { files: { 'planted-q8_0.gguf': buildTinyGguf({ quant: 'q8_0', seed: 3 }) } });
});
afterAll(async () => {
  for (const ws of workspaces) {
    await ws.run(['stop', '--all']);
    await ws.cleanup();
  }
  await hub.stop();
});

/** A fresh AIM_HOME with `outside` beside it: a folder holding one file, which a followed link would change. */
async function planted(plant: (ws: Workspace, outside: string) => Promise<void>): Promise<{ ws: Workspace; outside: string }> {
  const ws = await createWorkspace(undefined, { KAMIWAZA_BASE_URL: '', KAMIWAZA_BASE_URI: '', KAMIWAZA_API_URL: '', HF_TOKEN: '', HF_TOKEN_PATH: '', HF_ENDPOINT: hub.endpoint });
  ws.env.HF_HOME = ws.path('hf-home');
  workspaces.push(ws);
  const outside = ws.path('outside');
  await mkdir(outside);
  await writeFile(join(outside, 'precious'), 'keep me');
  await mkdir(join(ws.home, ...FOLDER), { recursive: true });
  await plant(ws, outside);
  return { ws, outside };
}

describe('planted in AIM_HOME/hub-downloads', () => {
  it.each([
    ['a link to a file outside as the journal', async (ws: Workspace, outside: string) => symlink(join(outside, 'precious'), join(ws.home, ...FOLDER, JOURNAL)), /planted-q8_0\.gguf\.chunks is a symlink/],
    ['a folder as the journal', async (ws: Workspace) => mkdir(join(ws.home, ...FOLDER, JOURNAL)), /planted-q8_0\.gguf\.chunks is a folder/],
    ['a FIFO as the journal', async (ws: Workspace) => void execFileSync('mkfifo', [join(ws.home, ...FOLDER, JOURNAL)]), /planted-q8_0\.gguf\.chunks is a FIFO/],
  ])('%s: refused plainly, nothing outside touched', async (_label, plant, message) => {
    const { ws, outside } = await planted(plant);
    const before = await snapshot(outside);
    await expectRefused(ws, SERVE, message);
    await expectUnchanged(outside, before);
    expect((await ws.json(['ps'])).deployments).toEqual([]);
  });

  it('hub-downloads itself a link to a folder outside: refused, nothing written there', async () => {
    const { ws, outside } = await planted(async (w, out) => {
      execFileSync('rm', ['-r', join(w.home, 'hub-downloads')]);
      await symlink(out, join(w.home, 'hub-downloads'));
    });
    const before = await snapshot(outside);
    await expectRefused(ws, SERVE, /hub-downloads is a symlink, not a folder/);
    await expectUnchanged(outside, before);
  });

  it('a link where the lock goes is removed, never followed, and the download goes on', async () => {
    const { ws, outside } = await planted(async (w, out) => symlink(join(out, 'precious'), join(w.home, ...FOLDER, `${JOURNAL}.lock`)));
    const before = await snapshot(outside);
    const result = await runBounded(ws, SERVE, { timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    await expectUnchanged(outside, before);
    expect(await readFile(join(outside, 'precious'), 'utf8')).toBe('keep me');
    await ws.run(['stop', '--all']);
  });
});

describe('planted in AIM_HOME/hub-repo', () => {
  it('hub-repo a link to a folder outside: refused, nothing stored there', async () => {
    const { ws, outside } = await planted(async (w, out) => symlink(out, join(w.home, 'hub-repo')));
    const before = await snapshot(outside);
    await expectRefused(ws, SERVE, /hub-repo is a symlink, not a folder/);
    await expectUnchanged(outside, before);
  });

  it('hub-repo/packs a link to a folder outside: refused, no pack written there', async () => {
    const { ws, outside } = await planted(async (w, out) => {
      await mkdir(join(w.home, 'hub-repo'));
      await symlink(out, join(w.home, 'hub-repo', 'packs'));
    });
    const before = await snapshot(outside);
    await expectRefused(ws, SERVE, /packs/);
    await expectUnchanged(outside, before);
  });
});
