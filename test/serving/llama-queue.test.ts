// The embedded server's queue, on a real server process with one sequence: a request that finds it busy waits,
// one past the queue's bound gets 503 with Retry-After, and a client that hangs up (queued or answering) gives its
// place back. The long answer is 32000 tokens, minutes of work for the tiny model: nothing here waits for it to
// finish, so each step below can only pass if the hang-up really ended that request.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTinyGgufInto } from '../../fixtures/tiny-gguf.js';
import { pollUntil } from '../../src/lib/poll.js';
import { serverScriptPath } from '../../src/serving/embedded/llama.js';

let dir: string;
let server: ChildProcess;
let base: string;

const waitFor = <T>(what: string, check: () => Promise<T | undefined>) => pollUntil<T>(async () => {
  const value = await check();
  return value === undefined ? { done: false } : { done: true, value };
}, { intervalMs: 20, timeoutMs: 15_000, onTimeout: () => new Error(`timed out waiting for ${what}`) });

const health = async () => (await fetch(`${base}/health`)).json() as Promise<Record<string, number | string>>;
const complete = (body: Record<string, unknown>, signal?: AbortSignal) =>
  fetch(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aim-queue-'));
  const model = await writeTinyGgufInto(dir, { quant: 'q8_0', seed: 4 });
  const readyFile = join(dir, 'ready.json');
  server = spawn(process.execPath, [serverScriptPath(), '--model', model, '--ready-file', readyFile, '--ctx-size', '32768',
    '--threads', '1', '--parallel', '1', '--max-queued', '1', '--gpu', 'off'], { stdio: 'ignore' });
  const { port } = await waitFor('the ready file', async () => JSON.parse(await readFile(readyFile, 'utf8').catch(() => 'null')) ?? undefined);
  base = `http://127.0.0.1:${port}`;
  await waitFor('the model to load', async () => ((await fetch(`${base}/health`)).status === 200 ? true : undefined));
});
afterAll(async () => {
  server.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

describe('the embedded server\'s request queue', () => {
  it('queues one request, refuses the next with 503 + Retry-After, and frees places when clients hang up', async () => {
    const long = new AbortController();
    const answering = await complete({ prompt: 'Once upon a time', max_tokens: 32_000, temperature: 0, stream: true }, long.signal);
    const reader = answering.body!.getReader();
    expect((await reader.read()).done).toBe(false); // generating now, on the only sequence

    const queuedAbort = new AbortController();
    const queued = complete({ prompt: 'hello', max_tokens: 4 }, queuedAbort.signal).catch((error: Error) => error);
    await waitFor('the second request to queue', async () => ((await health()).requests_queued === 1 ? true : undefined));

    const refused = await complete({ prompt: 'hello', max_tokens: 4 });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('2');
    expect((await refused.json()).error).toMatchObject({ type: 'unavailable_error', code: 'server_busy',
      message: expect.stringMatching(/^all 1 sequences are busy and 1 requests are waiting/) });

    queuedAbort.abort();
    expect(await queued).toBeInstanceOf(Error);
    await waitFor('the queued request to leave', async () => ((await health()).requests_queued === 0 ? true : undefined));
    expect(await health()).toMatchObject({ slots_processing: 1 });

    long.abort();
    await waitFor('the hung-up answer to free its sequence', async () => ((await health()).slots_idle === 1 ? true : undefined));
    const after = await complete({ prompt: 'hello', max_tokens: 4, temperature: 0 });
    expect(after.status).toBe(200);
    expect((await after.json()).usage.completion_tokens).toBe(4);
    expect(await health()).toMatchObject({ slots_processing: 0, requests_queued: 0, peak_slots_processing: 1 });
  });
});
