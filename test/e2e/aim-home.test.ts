import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTinyGgufInto } from '../../fixtures/tiny-gguf.js';
import { createWorkspace, type Workspace } from '../helpers/cli.js';

// AIM_HOME holds all of aim's local state: with HOME pointing at an empty folder and no XDG variables, a push, a
// pull, a run, ps, stop and doctor leave that folder empty (no cache, lock or log written anywhere else).

let ws: Workspace;
let home: string;
beforeAll(async () => {
  ws = await createWorkspace((dir) => ({ team: { type: 'local', path: join(dir, 'store') } }));
  home = ws.path('user-home');
  await mkdir(home);
  await writeTinyGgufInto(ws.path('src'), { quant: 'q8_0', seed: 11 });
});
afterAll(async () => {
  await ws.run(['stop', '--all']);
  await ws.cleanup();
});

describe('AIM_HOME is the only place aim keeps state', () => {
  it('writes nothing in HOME or the XDG folders', async () => {
    const env = {
      HOME: home, XDG_DATA_HOME: '', XDG_CACHE_HOME: '', XDG_CONFIG_HOME: '', XDG_STATE_HOME: '',
      KAMIWAZA_BASE_URL: '', KAMIWAZA_BASE_URI: '', KAMIWAZA_API_URL: '',
    };
    await ws.json(['push', 'team/tiny:v1', ws.path('src')], { env });
    await ws.json(['pull', 'team/tiny:v1', ws.path('pulled')], { env });
    await ws.json(['run', 'team/tiny:v1', '--threads', '1'], { env });
    await ws.json(['ps'], { env });
    await ws.json(['stop', '--all'], { env });
    await ws.json(['doctor'], { env });
    expect(await readdir(home, { recursive: true })).toEqual([]);
    expect((await readdir(ws.home)).sort()).toEqual(expect.arrayContaining(['deployments', 'models', 'run']));
  });
});
