// The embedded engine as `aim run` starts it, talked to as an OpenAI client would: several requests at once on
// several sequences, both generation routes streamed and not, embeddings from a tiny embedding GGUF, /v1/models,
// /health, OpenAI-shaped 400s, and the memory check that refuses a model before loading it.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTinyEmbeddingGgufInto } from '../../fixtures/tiny-embedding-gguf.js';
import { writeTinyGgufInto } from '../../fixtures/tiny-gguf.js';
import { createWorkspace, expectUserError, type Workspace } from '../helpers/cli.js';

const NO_KAMIWAZA = { KAMIWAZA_BASE_URL: '', KAMIWAZA_BASE_URI: '', KAMIWAZA_API_URL: '' };
const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const json = async (url: string, body: unknown) => {
  const reply = await post(url, body);
  return { status: reply.status, body: await reply.json() };
};

/** The data frames of an SSE reply, and whether it ended with `data: [DONE]`. */
async function frames(reply: Response): Promise<{ chunks: any[]; done: boolean }> {
  expect(reply.headers.get('content-type')).toBe('text/event-stream');
  const datas = (await reply.text()).trim().split('\n\n').map((f) => f.replace(/^data: /, ''));
  return { chunks: datas.filter((d) => d !== '[DONE]').map((d) => JSON.parse(d)), done: datas.at(-1) === '[DONE]' };
}

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace((dir) => ({ team: { type: 'local', path: join(dir, 'store') } }), NO_KAMIWAZA);
  await writeTinyGgufInto(ws.path('chat'), { quant: 'q8_0', seed: 11 });
  await writeTinyEmbeddingGgufInto(ws.path('embed'), { seed: 12 });
  await ws.json(['push', 'team/tiny:v1', ws.path('chat')]);
  await ws.json(['push', 'team/embed:v1', ws.path('embed')]);
});
afterAll(async () => {
  await ws.run(['stop', '--all']);
  await ws.cleanup();
});

describe('a chat model served with --parallel 2', () => {
  let endpoint: string;
  let health: string;
  beforeAll(async () => {
    const record = await ws.json(['run', 'team/tiny:v1', '--name', 'par', '--parallel', '2', '--threads', '1', '--ctx-size', '512', '--gpu', 'off']);
    expect(record.gpu).toEqual({ backend: false, layers: 0 });
    const listed = (await ws.json(['ps'])).deployments.find((d: { name: string }) => d.name === 'par');
    expect(listed).toMatchObject({ device: 'cpu', gpu: { backend: false, layers: 0 } });
    expect((await ws.run(['ps'])).stdout).toMatch(/^par\s+running\s+embedded\s+\S+\s+cpu\s/m);
    endpoint = record.endpoint;
    health = endpoint.replace(/\/v1$/, '/health');
  });

  it('answers four chat requests sent at once, each as it answers alone, two of them in flight together', async () => {
    const ask = (content: string) => json(`${endpoint}/chat/completions`, { messages: [{ role: 'user', content }], max_tokens: 48, temperature: 0 });
    const prompts = ['hello', 'tell me a story', 'what is two plus two', 'goodbye'];
    const alone = [];
    for (const prompt of prompts) alone.push(await ask(prompt));
    expect((await (await fetch(health)).json()).peak_slots_processing).toBe(1);

    const together = await Promise.all(prompts.map(ask));
    for (const [i, answer] of together.entries()) {
      expect(answer.status).toBe(200);
      expect(answer.body.choices[0].message.content).toBe(alone[i]!.body.choices[0].message.content);
      expect(answer.body.usage).toEqual(alone[i]!.body.usage);
    }
    expect(new Set(together.map((a) => a.body.id)).size).toBe(4);
    // Both sequences were busy at once (never more: the other two requests waited in the queue), and all are free now.
    expect(await (await fetch(health)).json()).toEqual({ status: 'ok', slots_idle: 2, slots_processing: 0, requests_queued: 0, peak_slots_processing: 2 });
  });

  it('streams chat and text completions with the same text as the plain answer, ending with [DONE]', async () => {
    const chat = { messages: [{ role: 'user', content: 'hi' }], max_tokens: 12, temperature: 0 };
    const plainChat = await json(`${endpoint}/chat/completions`, chat);
    const streamedChat = await frames(await post(`${endpoint}/chat/completions`, { ...chat, stream: true }));
    expect(streamedChat.done).toBe(true);
    expect(streamedChat.chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe(plainChat.body.choices[0].message.content);

    const completion = { prompt: 'Once upon a time', max_tokens: 12, temperature: 0 };
    const plain = await json(`${endpoint}/completions`, completion);
    expect(plain.body).toMatchObject({ object: 'text_completion', choices: [{ index: 0, finish_reason: 'length' }], usage: { completion_tokens: 12 } });
    const streamed = await frames(await post(`${endpoint}/completions`, { ...completion, stream: true }));
    expect(streamed.done).toBe(true);
    expect(streamed.chunks.every((c) => c.object === 'text_completion')).toBe(true);
    expect(streamed.chunks.map((c) => c.choices[0].text).join('')).toBe(plain.body.choices[0].text);
    expect(streamed.chunks.at(-1).usage.completion_tokens).toBe(12);
  });

  it('lists the model, and answers bad requests with 400 in OpenAI\'s error shape', async () => {
    expect(await (await fetch(`${endpoint}/models`)).json()).toMatchObject({ object: 'list', data: [{ id: 'team/tiny:v1', object: 'model', owned_by: 'aim' }] });
    const noMessages = await json(`${endpoint}/chat/completions`, { messages: 'hello' });
    expect(noMessages).toEqual({ status: 400, body: { error: { message: 'messages must be a non-empty array', type: 'invalid_request_error', param: 'messages', code: null } } });
    expect((await json(`${endpoint}/completions`, { prompt: 'x', temperature: 7 })).body.error).toMatchObject({ param: 'temperature', type: 'invalid_request_error' });
    const broken = await fetch(`${endpoint}/completions`, { method: 'POST', body: '{"prompt": ' });
    expect(broken.status).toBe(400);
    expect((await broken.json()).error.message).toBe('request body is not valid JSON');
    const notEmbedding = await json(`${endpoint}/embeddings`, { input: 'hello' });
    expect(notEmbedding.status).toBe(400);
    expect(notEmbedding.body.error).toMatchObject({ code: 'model_not_supported', message: expect.stringMatching(/team\/tiny:v1 is not an embedding model/) });
  });
});

describe('an embedding model', () => {
  let endpoint: string;
  beforeAll(async () => {
    endpoint = (await ws.json(['run', 'team/embed:v1', '--name', 'embed', '--threads', '1', '--ctx-size', '256'])).endpoint;
  });
  const embed = (input: unknown, extra: Record<string, unknown> = {}) => json(`${endpoint}/embeddings`, { model: 'team/embed:v1', input, ...extra });

  it('answers /v1/embeddings in OpenAI\'s shape: one vector of the model\'s embedding size per input', async () => {
    const one = await embed('the quick brown fox');
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ object: 'list', model: 'team/embed:v1', data: [{ object: 'embedding', index: 0 }] });
    const vector: number[] = one.body.data[0].embedding;
    expect(vector).toHaveLength(64); // the fixture's embedding_length
    expect(vector.every(Number.isFinite)).toBe(true);
    expect(one.body.usage.prompt_tokens).toBeGreaterThan(0);
    expect(one.body.usage.total_tokens).toBe(one.body.usage.prompt_tokens);

    const both = await embed(['the quick brown fox', 'a slow green turtle']);
    expect(both.body.data.map((d: { index: number }) => d.index)).toEqual([0, 1]);
    expect(both.body.data[0].embedding).toEqual(vector);
    expect(both.body.data[1].embedding).not.toEqual(vector);
    expect((await embed('the quick brown fox')).body.data[0].embedding).toEqual(vector);

    const packed = await embed('the quick brown fox', { encoding_format: 'base64' });
    const floats = new Float32Array(new Uint8Array(Buffer.from(packed.body.data[0].embedding, 'base64')).buffer);
    expect([...floats]).toEqual(vector.map((x) => Math.fround(x)));
  });

  it('refuses bad input and the generation routes with 400', async () => {
    for (const input of [undefined, '', [], ['ok', 3], 42]) {
      const bad = await embed(input);
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatchObject({ type: 'invalid_request_error', param: 'input' });
    }
    expect((await embed('x', { encoding_format: 'int8' })).body.error.param).toBe('encoding_format');
    const chat = await json(`${endpoint}/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] });
    expect(chat.status).toBe(400);
    expect(chat.body.error.message).toBe('team/embed:v1 is an embedding model: use /v1/embeddings');
  });
});

describe('the memory check', () => {
  it('refuses a model that does not fit before loading it, with exit code 8 and what to change', async () => {
    const result = await ws.run(['run', 'team/tiny:v1', '--name', 'tight', '--parallel', '4'], { env: { AIM_TEST_FREE_MEMORY: String(100 * 1024 * 1024) } });
    expect(result.code).toBe(8);
    expect(expectUserError(result)).toMatch(/^aim: error: not enough memory for tiny-llama-q8_0\.gguf: it needs ~\d+ MiB, 100 MiB free$/m);
    expect(result.stderr).toMatch(/--ctx-size \(now 8192 tokens over all sequences\) or --parallel, a smaller quant/);
    expect((await ws.json(['ps'])).deployments.map((d: { name: string }) => d.name)).not.toContain('tight');
  });

  it('counts a GPU\'s free memory beside RAM, unless --gpu off', async () => {
    const env = { AIM_TEST_FREE_MEMORY: String(100 * 1024 * 1024), AIM_TEST_FREE_GPU_MEMORY: String(1024 * 1024) };
    const counted = await ws.run(['run', 'team/tiny:v1', '--name', 'tight-gpu', '--parallel', '4'], { env });
    expect(counted.code).toBe(8);
    expect(expectUserError(counted)).toMatch(/it needs ~\d+ MiB, 100 MiB free \(\+ 1 MiB on the test GPU\)$/m);
    const off = await ws.run(['run', 'team/tiny:v1', '--name', 'tight-gpu', '--parallel', '4', '--gpu', 'off'], { env });
    expect(expectUserError(off)).toMatch(/it needs ~\d+ MiB, 100 MiB free$/m);
  });
});
