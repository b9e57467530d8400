import { createServer, type Server } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../src/lib/errors.js';
import type { DeploymentRecord, DeploymentSpec } from '../../src/serving/engine.js';
import { EmbeddedEngine, estimateMemory } from '../../src/serving/embedded/llama.js';
import { portIsFree } from '../../src/serving/process-utils.js';
import { writeTinyGgufInto } from '../../fixtures/tiny-gguf.js';
import { writeBrokenGguf, writeTinySplitGguf } from '../../fixtures/tiny-gguf-variants.js';

let dir: string;
let modelPath: string;
const engine = new EmbeddedEngine();
const spec = (over: Partial<DeploymentSpec> = {}): DeploymentSpec => ({
  name: 'tiny', model: 'team/tiny:v1', modelPath, modelId: 'team/tiny:v1', quant: 'Q8_0', threads: 1, ctxSize: 1024,
  runDir: join(dir, 'run'), ...over,
});

interface SseFrame { object: string; choices: Array<{ delta: { role?: string; content?: string }; finish_reason: string | null }>; usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } }

async function sse(res: Response): Promise<{ frames: SseFrame[]; done: boolean }> {
  const text = await res.text();
  const datas = text.split('\n\n').filter(Boolean).map((block) => {
    expect(block.startsWith('data: ')).toBe(true);
    return block.slice(6);
  });
  const done = datas.at(-1) === '[DONE]';
  return { frames: datas.filter((d) => d !== '[DONE]').map((d) => JSON.parse(d) as SseFrame), done };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aim-llama-'));
  modelPath = await writeTinyGgufInto(dir, { quant: 'q8_0', seed: 3 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('embedded engine with real llama.cpp', () => {
  let record: DeploymentRecord;

  it('starts, answers /health and /v1/models, and ps sees it running', async () => {
    const events: string[] = [];
    record = await engine.start(spec(), (e) => events.push(e.phase));
    expect(events).toEqual(['load', 'ready']);
    expect(record.endpoint).toBe(`http://127.0.0.1:${record.port}/v1`);
    const models = await (await fetch(`${record.endpoint}/models`)).json();
    expect(models).toMatchObject({ object: 'list', data: [{ id: 'team/tiny:v1', object: 'model' }] });
    expect((await engine.list([record]))[0]!.status).toBe('running');
  });

  it('answers a chat completion with usage', async () => {
    const res = await fetch(`${record.endpoint}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'team/tiny:v1', messages: [{ role: 'user', content: 'hello' }], max_tokens: 8, temperature: 0 }) });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ object: 'chat.completion', model: 'team/tiny:v1', choices: [{ index: 0, message: { role: 'assistant' }, finish_reason: 'length' }] });
    expect(body.usage.completion_tokens).toBe(8);
    expect(body.usage.prompt_tokens).toBeGreaterThan(5);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + 8);
    expect(typeof body.choices[0].message.content).toBe('string');
  });

  it('streams a chat completion: role first, content deltas, finish with usage, [DONE]', async () => {
    const res = await fetch(`${record.endpoint}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }], max_tokens: 6, temperature: 0, stream: true }) });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const { frames, done } = await sse(res);
    expect(done).toBe(true);
    expect(frames.every((f) => f.object === 'chat.completion.chunk')).toBe(true);
    expect(frames[0]!.choices[0]!.delta.role).toBe('assistant');
    const last = frames.at(-1)!;
    expect(last.choices[0]!.finish_reason).toBe('length');
    expect(last.usage!.completion_tokens).toBe(6);
    expect(frames.slice(1, -1).every((f) => typeof f.choices[0]!.delta.content === 'string' && f.choices[0]!.finish_reason === null)).toBe(true);
    expect(frames.length).toBeGreaterThan(2);
  });

  it('answers /v1/completions and OpenAI-shaped errors', async () => {
    const res = await fetch(`${record.endpoint}/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'the', max_tokens: 5, temperature: 0 }) });
    const body = await res.json();
    expect(body).toMatchObject({ object: 'text_completion', choices: [{ index: 0, finish_reason: 'length' }], usage: { completion_tokens: 5 } });
    expect(typeof body.choices[0].text).toBe('string');
    const bad = await fetch(`${record.endpoint}/chat/completions`, { method: 'POST', body: '{"messages": []}' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: { message: 'messages must be a non-empty array', type: 'invalid_request_error', param: 'messages', code: null } });
    expect((await fetch(`${record.endpoint}/chat/completions`, { method: 'POST', body: 'nope' })).status).toBe(400);
    expect((await fetch(`http://127.0.0.1:${record.port}/nope`)).status).toBe(404);
  });

  it('refuses a port in use before loading anything', async () => {
    const error = await engine.start(spec({ name: 'again', port: record.port })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).message).toBe(`port ${record.port} on 127.0.0.1 is already in use`);
  });

  it('stop ends the process and frees the port', async () => {
    expect(await engine.stop(record)).toBe('stopped');
    expect((await engine.list([record]))[0]!.status).toBe('stopped');
    expect(await portIsFree(record.port!)).toBe(true);
    expect(await readFile(record.logFile!, 'utf8')).toMatch(/SIGTERM: shutting down/);
    expect(await engine.stop(record)).toBe('gone');
  });
});

describe('embedded engine with a split GGUF', () => {
  it('loads every shard when given the first one', async () => {
    const shards = await writeTinySplitGguf(join(dir, 'split'), { quant: 'f16', seed: 3 });
    const record = await engine.start(spec({ name: 'split', modelPath: shards[0]!, files: shards, quant: 'F16' }));
    try {
      const res = await fetch(`${record.endpoint}/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'the', max_tokens: 3, temperature: 0 }) });
      expect((await res.json()).usage.completion_tokens).toBe(3);
      // The first shard alone lacks half the tensors, so an answer means llama.cpp found and loaded the others.
      expect(await readFile(record.logFile!, 'utf8')).toMatch(/model loaded/);
    } finally {
      await engine.stop(record);
    }
  });
});

describe('embedded engine failures', () => {
  it('shows the log tail when llama.cpp refuses the model', async () => {
    const broken = join(dir, 'broken-q8_0.gguf');
    await writeBrokenGguf(broken, 'missing-key', { quant: 'q8_0' });
    const error = (await engine.start(spec({ name: 'broken', modelPath: broken })).catch((e: unknown) => e)) as EngineError;
    expect(error).toBeInstanceOf(EngineError);
    expect(error.message).toMatch(/the engine stopped while loading broken-q8_0.gguf \(exit code 4\)/);
    expect(error.message).toMatch(/layer_norm_rms_epsilon/);
    expect(error.hint).toMatch(/failed to load model/);
  });

  it('refuses a model that does not fit in free memory', async () => {
    const tight = new EmbeddedEngine({ freeMemory: () => 64 * 1024 * 1024 });
    await expect(tight.start(spec({ name: 'big' }))).rejects.toThrow(/not enough memory for tiny-llama-q8_0.gguf: it needs ~150 MiB, 64 MiB free/);
    expect(estimateMemory(6e9, 4096)).toBeGreaterThan(6e9);
  });

  it('reports a port taken by someone else between check and bind', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const error = await engine.start(spec({ name: 'taken', port })).catch((e: unknown) => e);
    blocker.close();
    expect((error as Error).message).toMatch(/already in use/);
  });
});
