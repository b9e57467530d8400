// run / ps / stop through the built CLI, as a user runs them: push a real tiny GGUF to a local repository, serve it
// with the embedded llama.cpp engine, talk to the endpoint, see it in ps, stop it and check the port is free again;
// then the Kamiwaza engine against the contract stand-in, including the PRD's friendly-name flow.
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTinyGgufInto } from '../../fixtures/tiny-gguf.js';
import { isAlive, portIsFree } from '../../src/serving/process-utils.js';
import { CLI_PATH, createWorkspace, expectUserError, killWhen, type Workspace } from '../helpers/cli.js';
import { KamiwazaContractServer } from '../helpers/kamiwaza-contract-server.js';

const NO_KAMIWAZA = { KAMIWAZA_BASE_URL: '', KAMIWAZA_BASE_URI: '', KAMIWAZA_API_URL: '' };
const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace((dir) => ({ team: { type: 'local', path: join(dir, 'store') } }), NO_KAMIWAZA);
  await mkdir(ws.path('store'), { recursive: true });
  await writeTinyGgufInto(ws.path('src'), { quant: 'q8_0', seed: 5 });
  await writeTinyGgufInto(ws.path('src'), { quant: 'f16', seed: 5 });
  await ws.json(['push', 'team/tiny:v1', ws.path('src')]);
});
afterAll(async () => {
  await ws.run(['stop', '--all']);
  await ws.cleanup();
});

describe('aim run with the embedded engine', () => {
  it('serves, answers, shows in ps, stops and frees the port', async () => {
    const record = await ws.json(['run', 'team/tiny:v1', '--quant', 'q8_0', '--threads', '1', '--ctx-size', '1024']);
    expect(record).toMatchObject({ name: 'tiny', engine: 'embedded', modelId: 'team/tiny:v1', quant: 'Q8_0',
      facts: { architecture: 'llama', quantization: 'Q8_0', parameterCount: 120_640 } });
    expect(record.modelPath).toMatch(new RegExp(`^${ws.home}/models/team/tiny/[0-9a-f]{64}/tiny-llama-q8_0\\.gguf$`));
    expect(isAlive(record.pid)).toBe(true);

    const models = await (await fetch(`${record.endpoint}/models`)).json();
    expect(models.data[0].id).toBe('team/tiny:v1');
    const chat = await (await post(`${record.endpoint}/chat/completions`, { model: 'team/tiny:v1', messages: [{ role: 'user', content: 'hello' }], max_tokens: 7, temperature: 0 })).json();
    expect(chat).toMatchObject({ object: 'chat.completion', choices: [{ message: { role: 'assistant' }, finish_reason: 'length' }], usage: { completion_tokens: 7 } });
    const streamed = await (await post(`${record.endpoint}/chat/completions`, { messages: [{ role: 'user', content: 'hello' }], max_tokens: 7, temperature: 0, stream: true })).text();
    const frames = streamed.trim().split('\n\n').map((f) => f.replace(/^data: /, ''));
    expect(frames.at(-1)).toBe('[DONE]');
    const chunks = frames.slice(0, -1).map((f) => JSON.parse(f));
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe(chat.choices[0].message.content);

    const ps = await ws.json(['ps']);
    expect(ps.deployments).toMatchObject([{ name: 'tiny', status: 'running', engine: 'embedded', endpoint: record.endpoint }]);
    // The engine's own process, read from /proc: the tiny model and Node take tens of MiB, and it has run a moment.
    const usage = ps.deployments[0].usage;
    expect(usage.rssBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(usage.cpuSeconds).toBeGreaterThan(0);
    expect(usage.cpuPercent).toBeGreaterThanOrEqual(0);
    expect(usage.uptimeSeconds).toBeGreaterThanOrEqual(0);
    const human = await ws.run(['ps']);
    expect(human.stdout).toMatch(/^MODEL\s+STATUS\s+ENGINE\s+ENDPOINT\s+DEVICE\s+MEM\s+CPU\s+UPTIME\ntiny\s+running\s+embedded\s+http:\/\/127\.0\.0\.1:\d+\/v1\s+cpu\s+[\d.]+ MiB\s+[\d.]+%\s+\d+s\n$/);

    expectUserError(await ws.run(['run', 'team/tiny:v1', '--quant', 'q8_0']), /tiny is already running at http:\/\/127\.0\.0\.1:\d+\/v1/);

    expect(await ws.json(['stop', 'tiny'])).toEqual({ stopped: ['tiny'], gone: [] });
    expect(isAlive(record.pid)).toBe(false);
    expect(await portIsFree(record.port)).toBe(true);
    expect((await ws.json(['ps'])).deployments).toEqual([]);
    expect((await ws.run(['ps'])).stdout).toMatch(/no models running/);
  });

  it('shows a deployment whose server died as failed until stop clears it', async () => {
    const record = await ws.json(['run', 'team/tiny:v1', '--quant', 'f16', '--name', 'doomed']);
    process.kill(record.pid, 'SIGKILL');
    while (isAlive(record.pid)) await new Promise((r) => setTimeout(r, 20));
    const [crashed] = (await ws.json(['ps'])).deployments;
    expect(crashed).toMatchObject({ name: 'doomed', status: 'failed' });
    expect(crashed.detail).toMatch(/exited unexpectedly/);
    expect((await ws.run(['ps'])).stdout).toMatch(/doomed\s+failed \(exited unexpectedly/);
    expect(await ws.json(['stop', 'doomed'])).toEqual({ stopped: [], gone: ['doomed'] });
    expect((await ws.json(['ps'])).deployments).toEqual([]);
    expectUserError(await ws.run(['stop', 'doomed']), /no deployment named doomed/);
  });

  it('records the server before waiting for it: a run killed while loading leaves one that ps sees and stop ends', async () => {
    const recordFile = join(ws.home, 'deployments', 'killed.json');
    const running = ws.start(['run', 'team/tiny:v1', '--quant', 'q8_0', '--name', 'killed', '--threads', '1']);
    await killWhen(running, async () => /"pidStartTime"/.test(await readFile(recordFile, 'utf8').catch(() => '')));
    const { pid } = JSON.parse(await readFile(recordFile, 'utf8'));
    expect(isAlive(pid)).toBe(true);
    expect((await ws.json(['ps'])).deployments).toMatchObject([{ name: 'killed', engine: 'embedded', status: expect.stringMatching(/^(starting|running)$/) }]);
    expect(await ws.json(['stop', 'killed'])).toEqual({ stopped: ['killed'], gone: [] });
    expect(isAlive(pid)).toBe(false);
    expect((await ws.json(['ps'])).deployments).toEqual([]);
  });

  it('without --quant, a version that lacks the default quantization serves the largest that fits and says which', async () => {
    const result = await ws.json(['run', 'team/tiny:v1', '--name', 'fallback', '--threads', '1']);
    expect(result.fit.chosen.quant).toMatch(/^(F16|Q8_0)$/i);
    expect(result.quant.toUpperCase()).toBe(result.fit.chosen.quant.toUpperCase());
    expect(await ws.json(['stop', 'fallback'])).toEqual({ stopped: ['fallback'], gone: [] });
  });

  it('stop takes the model as run was given it (ollama stop MODEL), and suggests the running name for a typo', async () => {
    await ws.json(['run', 'team/tiny:v1', '--quant', 'q8_0', '--name', 'byref', '--threads', '1']);
    const typo = await ws.run(['stop', 'byrf']);
    expect(typo.code).toBe(3);
    expect(expectUserError(typo, /no deployment named byrf/) && typo.stderr).toMatch(/did you mean `aim stop byref`\?/);
    expectUserError(await ws.run(['stop', 'team/other:v1']), /no deployment serves team\/other:v1/);
    expect(await ws.json(['stop', 'team/tiny:v1'])).toEqual({ stopped: ['byref'], gone: [] });
    expect((await ws.json(['ps'])).deployments).toEqual([]);
  });

  it('explains what is wrong in one line with a hint', async () => {
    expectUserError(await ws.run(['run', 'team/tiny:v1', '--quant', 'q6_k']), /quantization q6_k not found in team\/tiny:v1; it has F16, Q8_0/);
    // No repository holds the name, so it is fetched from the hub: here one that refuses connections.
    expectUserError(await ws.run(['run', 'qwen2.5-7b-instruct'], { env: { HF_ENDPOINT: 'http://127.0.0.1:9' } }), /127\.0\.0\.1:9 did not answer GET \/api\/models\/Qwen\/Qwen2\.5-7B-Instruct-GGUF/);
    expectUserError(await ws.run(['run', 'nothing-like-this']), /neither a known model name nor a REPO\/MODEL reference/);
    expectUserError(await ws.run(['stop', 'ghost']), /no deployment named ghost/);
  });
});

describe('aim run with the Kamiwaza engine (contract stand-in)', () => {
  let server: KamiwazaContractServer;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    server = new KamiwazaContractServer();
    env = { KAMIWAZA_BASE_URL: (await server.start()).replace(/\/api$/, ''), KAMIWAZA_API_KEY: 'test-token', AIM_KAMIWAZA_POLL_MS: '10' };
    server.state.hub.set('Qwen/Qwen2.5-7B-Instruct-GGUF', [
      { name: 'qwen2.5-7b-instruct-q6_k-00001-of-00002.gguf', size: 3_990_000_000 },
      { name: 'qwen2.5-7b-instruct-q6_k-00002-of-00002.gguf', size: 2_260_000_000 },
      { name: 'qwen2.5-7b-instruct-q8_0.gguf', size: 8_100_000_000 },
    ]);
  });
  afterAll(async () => {
    expect(server.violations).toEqual([]);
    expect(server.responseViolations).toEqual([]);
    await server.close();
  });

  it('runs the PRD flow: friendly name -> download q6_k -> deploy -> ps -> stop', async () => {
    const run = await ws.run(['run', 'qwen2.5-7b-instruct'], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/🚀 downloading Qwen\/Qwen2.5-7B-Instruct-GGUF \(Q6_K\) 100%/);
    expect(run.stdout).toMatch(/✨ Model deployed!/);
    const download = server.calls.find((c) => c.startsWith('POST /api/models/download/'));
    expect(download).toBeDefined();
    expect((await ws.json(['ps'], { env })).deployments).toMatchObject([{ name: 'qwen2.5-7b-instruct', engine: 'kamiwaza', status: 'running' }]);
    expect(await ws.json(['stop', 'qwen2.5-7b-instruct'], { env })).toEqual({ stopped: ['qwen2.5-7b-instruct'], gone: [] });
    expect((await ws.json(['ps'], { env })).deployments).toEqual([]);
  });

  it('registers a pulled GGUF by its local path and reports a failed deployment with Kamiwaza\'s reason', async () => {
    const record = await ws.json(['run', 'team/tiny:v1', '--quant', 'f16', '--name', 'tiny-kz'], { env });
    expect(record).toMatchObject({ engine: 'kamiwaza', quant: 'F16' });
    const registered = server.state.models.find((m) => m.name === 'team/tiny:v1')!;
    expect(registered.m_files).toMatchObject([{ storage_type: 'file', storage_location: record.modelPath }]);
    await ws.json(['stop', 'tiny-kz'], { env });
    server.state.failNextDeployment = { code: 'OOM', message: 'not enough memory on node-1' };
    expectUserError(await ws.run(['run', 'team/tiny:v1', '--quant', 'f16', '--name', 'tiny-kz'], { env }), /FAILED: OOM: not enough memory on node-1/);
  });
});

describe('aim ps and aim stop with a deployment no engine can be set up for', () => {
  it('lists a Kamiwaza record with no server address anywhere as unknown, and the rest as usual', async () => {
    const record = {
      name: 'orphan', engine: 'kamiwaza', model: 'team/tiny:v1', modelId: 'x', quant: 'q8_0', modelPath: '/nowhere.gguf',
      endpoint: 'http://127.0.0.1:9/v1', startedAt: new Date().toISOString(),
    };
    await mkdir(join(ws.home, 'deployments'), { recursive: true });
    await writeFile(join(ws.home, 'deployments', 'orphan.json'), JSON.stringify(record));
    try {
      const listed = (await ws.json(['ps'])).deployments;
      expect(listed).toMatchObject([{ name: 'orphan', engine: 'kamiwaza', status: 'unknown', detail: expect.stringMatching(/no Kamiwaza server is configured/) }]);
      expect((await ws.run(['ps'])).stdout).toMatch(/orphan\s+unknown \(no Kamiwaza server is configured\)/);
    } finally {
      await rm(join(ws.home, 'deployments', 'orphan.json'), { force: true });
    }
  });
});

describe('CLI start-up', () => {
  it('never imports node-llama-cpp outside the server process', () => {
    // The built CLI is one script (dist/bundle/aim.cjs, which dist/bundle/aim.js starts) holding every command: it
    // must name the server script it spawns, and never load node-llama-cpp itself, by require() or import().
    const script = readFileSync(join(dirname(CLI_PATH), 'aim.cjs'), 'utf8');
    expect(script).toContain('llama-server.js');
    expect(script.match(/\b(?:require|__aimImport|import)\(\s*['"]node-llama-cpp['"]/g) ?? []).toEqual([]);
    // The same pattern finds a load of a package the script does make.
    expect(script.match(/\b(?:require|__aimImport|import)\(\s*['"]@aws-sdk\/client-s3['"]/g)?.length).toBeGreaterThan(0);
  });
});
