// SIGTERM (what a service manager or `timeout` sends) in the middle of a real push and a real pull: the command
// must end within two seconds, by the signal, with its one-line note, and the same command run again must finish
// the job. The signal is sent when the transfer shows it is under way (a pack under its final name, a journal on
// disk), never after a fixed sleep.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { createWorkspace, expectSameTree, listFiles, type CliResult, type RunningCli, type Workspace } from '../helpers/cli.js';

const MiB = 1024 * 1024;
const SIZE = 256 * MiB;
/** The bound on how long a command may take to end once signalled. */
const END_WITHIN_MS = 2000;

/** Polls `ready` until true, sends SIGTERM, and returns how the command ended; SIGKILLs it past END_WITHIN_MS. */
async function terminateWhen(running: RunningCli, ready: () => Promise<boolean>): Promise<CliResult> {
  let exited = false;
  void running.result.then(() => (exited = true));
  while (!exited && !(await ready())) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(exited, `the command finished before it could be stopped:\n${running.stderrSoFar()}`).toBe(false);
  running.child.kill('SIGTERM');
  const stuck = setTimeout(() => running.child.kill('SIGKILL'), END_WITHIN_MS);
  const result = await running.result;
  clearTimeout(stuck);
  return result;
}

function expectEndedBySigterm(result: CliResult): void {
  expect(result.signal, `still running ${END_WITHIN_MS} ms after SIGTERM (killed):\n${result.stderr}`).toBe('SIGTERM');
  expect(result.stderr).toMatch(/aim: interrupted; nothing half-written is visible, run the same command again to resume/);
  expect(result.stderr).not.toMatch(/^\s+at /m);
}

async function filesUnder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile() && !entry.name.endsWith('.tmp')).map((entry) => join(entry.parentPath, entry.name));
}

describe('SIGTERM midway ends the command within two seconds, and the rerun finishes', () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    await generateModel(ws.path('model'), { files: [{ path: 'weights.bin', size: SIZE }, { path: 'config.json', size: 4096 }], seed: 'sigterm' });
  });
  afterAll(() => ws.cleanup());

  it('push', async () => {
    const running = ws.start(['push', 'r/m:v1', 'model']);
    const result = await terminateWhen(running, async () => (await filesUnder(ws.path('repo', 'packs'))).length >= 1);
    expectEndedBySigterm(result);
    expect(await filesUnder(ws.path('repo', 'models')), 'no tag names a version the push did not finish').toEqual([]);

    const resumed = await ws.json(['push', 'r/m:v1', 'model']);
    expect(resumed.bytesSkipped, 'the packs stored before the signal are not sent again').toBeGreaterThan(0);
    expect(resumed.bytesTransferred + resumed.bytesSkipped).toBe(SIZE + 4096);
  });

  it('pull', async () => {
    const inspected = await ws.json(['inspect', 'r/m:v1']);
    const weights = inspected.files.find((file: { path: string }) => file.path === 'weights.bin').digest.slice(7);
    const journal = ws.path('out', '.aim', 'partial', `${weights}.journal`);
    const running = ws.start(['pull', 'r/m:v1', 'out']);
    // The journal is first written once 64 MiB are on disk.
    const result = await terminateWhen(running, async () => (await readFile(journal, 'utf8').catch(() => '')).includes('"complete":false'));
    expectEndedBySigterm(result);
    expect(await listFiles(ws.path('out')), 'no final-named file after the signal').toEqual([]);

    const resumed = await ws.json(['pull', 'r/m:v1', 'out']);
    expect(resumed.bytesTransferred).toBeLessThanOrEqual(SIZE + 4096 - 64 * MiB);
    await expectSameTree(ws.path('out'), ws.path('model'));
  });
});
