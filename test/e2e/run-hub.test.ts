// `aim run` with no configuration: a friendly name, or hf.co/ORG/REPO[:QUANT], fetched from the Hugging Face hub
// (a stand-in following the hub's API contract, test/helpers/hub-stand-in.ts, named by HF_ENDPOINT) into aim's own
// hub repository and served by the embedded engine; resumed after kill -9 with Range requests; checked against the
// hub's sha256 (resume: hub-download.test.ts); a gated repository and HF_TOKEN; a split GGUF; a local file served where it is; a mistyped name.
import { createHash } from 'node:crypto';
import { lstat, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTinyGguf } from '../../fixtures/tiny-gguf.js';
import { writeTinySplitGguf } from '../../fixtures/tiny-gguf-variants.js';
import { createWorkspace, expectUserError, type Workspace } from '../helpers/cli.js';
import { HubStandIn } from '../helpers/hub-stand-in.js';

const NO_KAMIWAZA = { KAMIWAZA_BASE_URL: '', KAMIWAZA_BASE_URI: '', KAMIWAZA_API_URL: '', HF_TOKEN: '', HUGGING_FACE_HUB_TOKEN: '', HF_TOKEN_PATH: '' };
const SERVE = ['--threads', '1', '--ctx-size', '1024'];
const QWEN = 'Qwen/Qwen2.5-0.5B-Instruct-GGUF';
const q8 = buildTinyGguf({ quant: 'q8_0', seed: 7 });
const f16 = buildTinyGguf({ quant: 'f16', seed: 7 });

let hub: HubStandIn;
const workspaces: Workspace[] = [];
async function freshMachine(): Promise<Workspace> {
  // No repositories: no model_repos.yaml is written, as on a machine where aim was just installed.
  const ws = await createWorkspace(undefined, { ...NO_KAMIWAZA, HF_ENDPOINT: hub.endpoint });
  ws.env.HF_HOME = ws.path('hf-home'); // never the machine's own token file
  workspaces.push(ws);
  return ws;
}
const cdnRequests = () => hub.seen.filter((r) => r.host === 'cdn');
const chat = async (endpoint: string) => (await fetch(`${endpoint}/chat/completions`, {
  method: 'POST', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ messages: [{ role: 'user', content: 'hello' }], max_tokens: 5, temperature: 0 }),
})).json();

beforeAll(async () => {
  hub = await HubStandIn.start();
  hub.publish(QWEN, { files: { 'qwen2.5-0.5b-instruct-q8_0.gguf': q8, 'qwen2.5-0.5b-instruct-fp16.gguf': f16, 'README.md': Buffer.from('# tiny\n') } });
});
afterAll(async () => {
  for (const ws of workspaces) {
    await ws.run(['stop', '--all']);
    await ws.cleanup();
  }
  await hub.stop();
});

describe('aim run NAME from the hub, with no configuration', () => {
  it('downloads only the chosen quantization, serves it, and a rerun downloads nothing', async () => {
    const ws = await freshMachine();
    const before = cdnRequests().length;
    const run = await ws.run(['run', 'qwen2.5-0.5b-instruct', ...SERVE]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('🚀 Downloading Qwen 2.5 0.5B Instruct...');
    expect(run.stdout).toContain('✨ Model deployed!');
    const fetched = cdnRequests().slice(before);
    expect(fetched).toHaveLength(1);
    expect(hub.bytesSent.get(createHash('sha256').update(q8).digest('hex'))).toBe(q8.length);

    const [deployment] = (await ws.json(['ps'])).deployments;
    expect(deployment).toMatchObject({ name: 'qwen2.5-0.5b-instruct', status: 'running', engine: 'embedded' });
    const answer = await chat(deployment.endpoint);
    expect(answer).toMatchObject({ object: 'chat.completion', usage: { completion_tokens: 5 } });
    expect(await ws.json(['stop', 'qwen2.5-0.5b-instruct'])).toEqual({ stopped: ['qwen2.5-0.5b-instruct'], gone: [] });

    const again = await ws.json(['run', 'qwen2.5-0.5b-instruct', ...SERVE]);
    expect(again).toMatchObject({ quant: 'Q8_0', modelId: `hf.co/${QWEN}` });
    expect(cdnRequests().length - before).toBe(1);
    await ws.json(['stop', 'qwen2.5-0.5b-instruct']);
  });

  it('fetches every shard of a split GGUF and serves the first', async () => {
    const ws = await freshMachine();
    const shards = await writeTinySplitGguf(ws.path('split'), { quant: 'q8_0', shards: 2, name: 'splitmodel' });
    const files = Object.fromEntries(await Promise.all(shards.map(async (p) => [p.split('/').at(-1)!, await readFile(p)] as const)));
    hub.publish('tiny-org/split-GGUF', { files: { ...files, 'splitmodel-f16.gguf': f16 } });
    const record = await ws.json(['run', 'hf.co/tiny-org/split-GGUF:q8_0', ...SERVE]);
    expect(record.modelPath).toMatch(/splitmodel-q8_0-00001-of-00002\.gguf$/);
    expect(await chat(record.endpoint)).toMatchObject({ object: 'chat.completion' });
    await ws.json(['stop', record.name]);
  });

  it('names HF_TOKEN for a gated repository, and sends the token to the hub only, never to the CDN', async () => {
    const ws = await freshMachine();
    hub.publish('gated-org/gated-GGUF', { gated: true, files: { 'gated-q8_0.gguf': q8 } });
    const refused = await ws.run(['run', 'hf.co/gated-org/gated-GGUF', ...SERVE]);
    expectUserError(refused, /refused gated-org\/gated-GGUF\/gated-q8_0\.gguf \(HTTP 401\).*gated or private/);
    expect(refused.stderr).toMatch(/hint: set HF_TOKEN/);
    expect((await ws.json(['ps'])).deployments).toEqual([]);
    const before = hub.seen.length;
    const record = await ws.json(['run', 'hf.co/gated-org/gated-GGUF', ...SERVE], { env: { HF_TOKEN: hub.token } });
    const sent = hub.seen.slice(before);
    expect(sent.filter((r) => r.host === 'hub').every((r) => r.authorization === `Bearer ${hub.token}`)).toBe(true);
    expect(sent.filter((r) => r.host === 'cdn')).not.toHaveLength(0);
    expect(sent.filter((r) => r.host === 'cdn').every((r) => r.authorization === undefined)).toBe(true);
    await ws.json(['stop', record.name]);
  });

  it('fails with exit 4 and installs nothing when the content does not match the published sha256', async () => {
    const ws = await freshMachine();
    hub.publish('bad-org/bad-GGUF', { wrongSha: ['bad-q8_0.gguf'], files: { 'bad-q8_0.gguf': q8 } });
    const result = await ws.run(['run', 'hf.co/bad-org/bad-GGUF', ...SERVE]);
    expectUserError(result, /does not match the sha256 the hub publishes/);
    expect(result.code).toBe(4);
    expect((await ws.json(['ps'])).deployments).toEqual([]);
    expect(await lstat(join(ws.home, 'hub-repo', 'tags')).catch(() => undefined)).toBeUndefined();
  });

  it('suggests the closest names for a mistyped one (exit 3)', async () => {
    const ws = await freshMachine();
    const result = await ws.run(['run', 'qwen2.5-7b-instrct']);
    expectUserError(result, /"qwen2\.5-7b-instrct" is neither a known model name/);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/did you mean qwen2\.5-7b-instruct/);
  });
});

describe('aim run FILE', () => {
  it('serves a local GGUF where it is, through a link the user gave too', async () => {
    const ws = await freshMachine();
    await mkdir(ws.path('models'));
    await writeFile(ws.path('models', 'mine-q8_0.gguf'), q8);
    const record = await ws.json(['run', './models/mine-q8_0.gguf', ...SERVE]);
    expect(record.modelPath).toBe(ws.path('models', 'mine-q8_0.gguf'));
    expect((await stat(record.modelPath)).ino).toBe((await stat(ws.path('models', 'mine-q8_0.gguf'))).ino);
    expect(await chat(record.endpoint)).toMatchObject({ object: 'chat.completion' });
    await ws.json(['stop', record.name]);

    await symlink(ws.path('models', 'mine-q8_0.gguf'), ws.path('link.gguf'));
    const linked = await ws.json(['run', ws.path('link.gguf'), ...SERVE]);
    expect(linked.modelPath).toBe(ws.path('models', 'mine-q8_0.gguf'));
    await ws.json(['stop', linked.name]);

    await symlink(ws.path('link.gguf'), ws.path('chain.gguf'));
    expectUserError(await ws.run(['run', './chain.gguf']), /is not a regular file/);
    expectUserError(await ws.run(['run', './missing.gguf']), /does not exist/);
  });
});
