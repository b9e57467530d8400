// A push asks util-linux's fincore how much of a big file the page cache holds (src/lib/page-cache.ts). A fincore on
// PATH that never answers must not keep the push from ending on Ctrl-C within two seconds, nor outlive it.
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { createWorkspace, signalWhen, type Workspace } from '../helpers/cli.js';

const MiB = 1024 * 1024;
/** The bound on how long a command may take to end once signalled. */
const END_WITHIN_MS = 2000;

/** Whether process `pid` is gone (or only a zombie waiting for init to reap it). */
async function gone(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat === undefined || /^\d+ \(.*\) Z /.test(stat);
}

describe.runIf(process.platform === 'linux')('a push while fincore hangs', () => {
  let ws: Workspace;
  let marker: string;
  let path: string;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    await generateModel(ws.path('model'), { files: [{ path: 'weights.bin', size: 32 * MiB }], seed: 'fincore' });
    marker = ws.path('fincore.pid');
    const folder = ws.path('fake-bin');
    await mkdir(folder);
    // Says it started (its pid), then neither answers nor exits.
    await writeFile(join(folder, 'fincore'), `#!/bin/sh\necho $$ > ${marker}.tmp && mv ${marker}.tmp ${marker}\nexec sleep 60\n`);
    await chmod(join(folder, 'fincore'), 0o755);
    path = `${folder}${delimiter}${process.env.PATH}`;
  });
  afterAll(() => ws.cleanup());

  it('ends on SIGINT within two seconds, and takes fincore with it', async () => {
    const running = ws.start(['push', 'r/m:v1', 'model'], { env: { PATH: path, AIM_DIRECT_IO: '1' } });
    let killer: NodeJS.Timeout | undefined;
    // Once fincore has started, the signal goes; past the bound the command is killed and the case fails.
    const asked = async () => {
      const started = (await readFile(marker, 'utf8').catch(() => '')).endsWith('\n');
      if (started) killer = setTimeout(() => running.child.kill('SIGKILL'), END_WITHIN_MS);
      return started;
    };
    const result = await signalWhen(running, asked, 'SIGINT');
    clearTimeout(killer);
    expect(result.signal, `still running ${END_WITHIN_MS} ms after SIGINT (killed):\n${result.stderr}`).toBe('SIGINT');
    const pid = Number(await readFile(marker, 'utf8'));
    let left = 200;
    while (!(await gone(pid)) && left-- > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    const alive = !(await gone(pid));
    if (alive) process.kill(pid, 'SIGKILL');
    expect(alive, 'the fincore aim started still runs after aim ended').toBe(false);
  }, 30_000);
});
