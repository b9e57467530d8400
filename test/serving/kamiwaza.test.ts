import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, EngineError } from '../../src/lib/errors.js';
import type { DeploymentSpec, EngineEvent } from '../../src/serving/engine.js';
import { KamiwazaEngine } from '../../src/serving/kamiwaza/kamiwaza.js';
import { kamiwazaSettings, withApiPrefix } from '../../src/serving/kamiwaza/kamiwaza-http.js';
import { hubFiles, startFromHub } from '../../src/serving/kamiwaza/kamiwaza-hub.js';
import { endpointOf } from '../../src/serving/kamiwaza/kamiwaza-endpoint.js';
import { KamiwazaContractServer } from '../helpers/kamiwaza-contract-server.js';
import { writeTinyGgufInto } from '../../fixtures/tiny-gguf.js';
import { writeTinySplitGguf } from '../../fixtures/tiny-gguf-variants.js';

let dir: string;
let server: KamiwazaContractServer;
let engine: KamiwazaEngine;
const QWEN = 'Qwen/Qwen2.5-7B-Instruct-GGUF';

const engineFor = (url: string, apiKey = 'test-token') =>
  new KamiwazaEngine({ settings: { baseUrl: url, apiKey, verifySsl: true }, pollMs: 5, timeoutMs: 5000 });

async function spec(over: Partial<DeploymentSpec> = {}): Promise<DeploymentSpec> {
  const modelPath = await writeTinyGgufInto(dir, { quant: 'q8_0' });
  return { name: 'tiny', model: 'team/tiny:v1', modelPath, modelId: 'team/tiny:v1', quant: 'Q8_0', runDir: join(dir, 'run'), ...over };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aim-kz-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  server = new KamiwazaContractServer();
  engine = engineFor(await server.start());
  server.state.hub.set(QWEN, [
    { name: 'qwen2.5-7b-instruct-q4_k_m.gguf', size: 4_683_073_952 },
    { name: 'qwen2.5-7b-instruct-q6_k-00001-of-00002.gguf', size: 3_990_000_000 },
    { name: 'qwen2.5-7b-instruct-q6_k-00002-of-00002.gguf', size: 2_260_000_000 },
    { name: 'README.md', size: 4000 },
  ]);
});
afterEach(async () => {
  // Every request the client made must conform to the published contract, and so must every stand-in answer.
  expect(server.violations).toEqual([]);
  expect(server.responseViolations).toEqual([]);
  await server.close();
});

describe('Kamiwaza engine against the contract stand-in', () => {
  it('registers a local GGUF, deploys it with llama.cpp, lists and stops it', async () => {
    const events: EngineEvent[] = [];
    const record = await engine.start(await spec(), (e) => events.push(e));
    expect(record).toMatchObject({ engine: 'kamiwaza', name: 'tiny', modelId: 'team/tiny:v1', quant: 'Q8_0' });
    expect(record.endpoint).toBe(`http://127.0.0.1/runtime/models/${record.kamiwaza!.deploymentId}/v1`);
    expect(events.map((e) => e.message)).toEqual(['registering tiny-llama-q8_0.gguf with Kamiwaza', 'deploying team/tiny:v1 with llama.cpp',
      'deployment deploying', 'deployment deployed']);
    const [model] = server.state.models;
    expect(model!.m_files).toMatchObject([{ name: 'tiny-llama-q8_0.gguf', storage_type: 'file', storage_location: join(dir, 'tiny-llama-q8_0.gguf'), size: 137_952 }]);
    const deployment = server.state.deployments[0]!;
    expect(deployment).toMatchObject({ engine_name: 'llamacpp', m_id: model!.id, m_file_id: (model!.m_files as Array<{ id: string }>)[0]!.id });
    expect((await engine.list([record]))[0]!.status).toBe('running');

    // A second run of the same file reuses the registered model and its config.
    await engine.start(await spec({ name: 'tiny2' }));
    expect(server.state.models).toHaveLength(1);
    expect(server.state.configs).toHaveLength(1);

    await engine.stop(record);
    expect((await engine.list([record]))[0]!.status).toBe('stopped');
    await engine.stop(record);
  });

  it('registers every shard of a split GGUF', async () => {
    const shards = await writeTinySplitGguf(join(dir, 'split'), { quant: 'q8_0' });
    await engine.start(await spec({ modelPath: shards[0]!, files: shards }));
    expect((server.state.models[0]!.m_files as Array<{ name: string }>).map((f) => f.name)).toEqual(['tiny-llama-q8_0-00001-of-00002.gguf', 'tiny-llama-q8_0-00002-of-00002.gguf']);
  });

  it('downloads a friendly name\'s quantization from the hub, with progress, then deploys it', async () => {
    const names = (await hubFiles(engine, QWEN)).map((f) => f.name);
    expect(names).toContain('qwen2.5-7b-instruct-q6_k-00001-of-00002.gguf');
    const files = names.filter((n) => /q6_k/.test(n)).sort();
    const percents: number[] = [];
    const record = await startFromHub(engine, { name: 'qwen2.5-7b-instruct', model: 'qwen2.5-7b-instruct', hfRepo: QWEN, quant: 'Q6_K', files },
      (e) => e.phase === 'download' && e.percent !== undefined && percents.push(e.percent));
    expect(percents).toEqual([0, 40, 80, 100]);
    expect(record).toMatchObject({ engine: 'kamiwaza', modelId: QWEN, model: 'qwen2.5-7b-instruct' });
    expect(server.calls.filter((c) => c.startsWith('POST /api/models/download/'))).toHaveLength(1);
    // Running it again finds the files already downloaded and only deploys.
    await startFromHub(engine, { name: 'again', model: 'qwen2.5-7b-instruct', hfRepo: QWEN, quant: 'Q6_K', files });
    expect(server.calls.filter((c) => c.startsWith('POST /api/models/download/'))).toHaveLength(1);
  });

  it('fails with Kamiwaza\'s own error code and message', async () => {
    server.state.failNextDeployment = { code: 'OOM', message: 'CUDA out of memory while loading weights' };
    const error = (await engine.start(await spec()).catch((e: unknown) => e)) as EngineError;
    expect(error).toBeInstanceOf(EngineError);
    expect(error.message).toMatch(/^Kamiwaza deployment [0-9a-f-]{36} FAILED: OOM: CUDA out of memory while loading weights$/);
    expect(error.hint).toMatch(/smaller quantization/);
    const failed = { name: 'x', state: 'ready' as const, engine: 'kamiwaza' as const, model: 'm', modelId: 'm', quant: 'Q8_0', modelPath: '/x', endpoint: '', startedAt: '',
      kamiwaza: { baseUrl: server.url, deploymentId: String(server.state.deployments[0]!.id), modelId: '' } };
    expect((await engine.list([failed]))[0]).toMatchObject({ status: 'failed', detail: 'OOM: CUDA out of memory while loading weights' });
  });

  it('says unauthorized, with a hint, on a wrong API key', async () => {
    const error = (await engineFor(server.url, 'wrong').start(await spec()).catch((e: unknown) => e)) as EngineError;
    expect(error.message).toBe(`Kamiwaza at ${server.url} refused the request (401: Invalid token)`);
    expect(error.hint).toMatch(/create a new PAT/);
    expect(server.state.models).toHaveLength(0);
  });

  it('says unreachable when nothing listens, and explains a base URL without /api', async () => {
    const url = server.url;
    await server.close();
    const error = (await engineFor(url).start(await spec()).catch((e: unknown) => e)) as EngineError;
    expect(error.message).toBe(`cannot reach Kamiwaza at ${url} (ECONNREFUSED)`);
    expect(error.hint).toMatch(/--engine embedded/);
    server = new KamiwazaContractServer();
    const fresh = await server.start();
    const noApi = new KamiwazaEngine({ settings: { baseUrl: fresh.replace(/\/api$/, '/ui'), apiKey: 'test-token', verifySsl: true } });
    await expect(noApi.preflight()).rejects.toThrow(/did not answer with JSON \(HTTP 404\)/);
  });
});

describe('the contract stand-in itself', () => {
  it('rejects and records requests that break the contract', async () => {
    const post = (path: string, body: unknown, query = '') => fetch(`${server.url}${path}${query}`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer test-token' }, body: JSON.stringify(body) });
    expect((await post('/serving/deploy_model', { m_id: 'not-a-uuid' })).status).toBe(422);
    expect((await post('/models/', { name: 'x', m_files: [{ name: 'f', storage_type: 'floppy' }] })).status).toBe(422);
    expect((await fetch(`${server.url}/model_files/download_status/?model_id=x`, { headers: { authorization: 'Bearer test-token' } })).status).toBe(422);
    expect((await fetch(`${server.url}/serving/deployment/123`, { headers: { authorization: 'Bearer test-token' } })).status).toBe(422);
    expect((await post('/no/such/thing', {})).status).toBe(404);
    expect(server.violations).toHaveLength(5);
    expect(server.violations.join('\n')).toMatch(/m_config_id/);
    expect(server.violations.join('\n')).toMatch(/unknown query parameter model_id/);
    expect(server.violations.join('\n')).toMatch(/deployment_id/);
    server.violations.length = 0;
  });

  it('checks its own answers against the response schemas', async () => {
    server.state.deployments.push({ id: 'nope', status: 'DEPLOYED' });
    await fetch(`${server.url}/serving/deployments`, { headers: { authorization: 'Bearer test-token' } });
    expect(server.responseViolations.join('\n')).toMatch(/GET \/serving\/deployments: response 200: .*m_id/);
    server.responseViolations.length = 0;
  });
});

describe('Kamiwaza settings', () => {
  it('reads the SDK\'s variables and ensures /api', () => {
    expect(kamiwazaSettings({ KAMIWAZA_BASE_URL: 'https://localhost/', KAMIWAZA_API_KEY: 'k', KAMIWAZA_VERIFY_SSL: 'false' }))
      .toEqual({ baseUrl: 'https://localhost/api', apiKey: 'k', verifySsl: false });
    expect(withApiPrefix('http://h:7777/api/')).toBe('http://h:7777/api');
    expect(kamiwazaSettings({}, 'https://kz.example').baseUrl).toBe('https://kz.example/api');
    expect(() => kamiwazaSettings({})).toThrow(ConfigError);
  });
});

describe('deployment endpoints', () => {
  const id = '0b5e2d4c-1f7a-4e8b-9c3d-2a1b0c9d8e7f';
  it('follow the SDK: access_path on the API host, else lb_port, else /runtime/models/<id>', () => {
    expect(endpointOf('https://kz.example/api', { id, access_path: `/runtime/models/${id}` })).toBe(`https://kz.example/runtime/models/${id}/v1`);
    expect(endpointOf('https://kz.example:8443/api', { id, access_path: '/api/runtime/models/x/v1/' })).toBe('https://kz.example/runtime/models/x/v1');
    expect(endpointOf('http://127.0.0.1/api', { id, lb_port: 51100 })).toBe('http://127.0.0.1:51100/v1');
    expect(endpointOf('http://127.0.0.1/api', { id, lb_port: 0 })).toBe(`http://127.0.0.1/runtime/models/${id}/v1`);
  });

  it.each(['@evil.example/x', '//evil.example/x', '/\\evil.example', '/a/../../b', '/x#frag', '/x?y=1', '/%2e%2e/x', ' /x', '/x\n'])(
    'refuse the access path %j', (accessPath) => {
      expect(() => endpointOf('http://127.0.0.1/api', { id, access_path: accessPath })).toThrow(/not a plain path/);
    });
});
