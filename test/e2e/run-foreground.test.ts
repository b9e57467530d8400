import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTinyGgufInto } from '../../fixtures/tiny-gguf.js';
import { pollUntil } from '../../src/lib/poll.js';
import { isAlive } from '../../src/serving/process-utils.js';
import { createWorkspace, expectUserError, signalWhen, type Workspace } from '../helpers/cli.js';

// `aim run --foreground`, as systemd and `docker run` use it: the CLI stays while the model serves, takes the engine
// down with it on SIGTERM, and exits non-zero when the engine ends on its own (so a service manager restarts it).

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace((dir) => ({ team: { type: 'local', path: join(dir, 'store') } }), { KAMIWAZA_BASE_URL: '', KAMIWAZA_BASE_URI: '', KAMIWAZA_API_URL: '' });
  await writeTinyGgufInto(ws.path('src'), { quant: 'q8_0', seed: 9 });
  await ws.json(['push', 'team/tiny:v1', ws.path('src')]);
});
afterAll(async () => {
  await ws.run(['stop', '--all']);
  await ws.cleanup();
});

/** The deployment's record once the engine answered (state ready), else undefined. */
async function readyRecord(name: string): Promise<{ pid: number; port: number; endpoint: string; logFile: string } | undefined> {
  const text = await readFile(join(ws.home, 'deployments', `${name}.json`), 'utf8').catch(() => undefined);
  const record = text ? JSON.parse(text) : undefined;
  return record?.state === 'ready' ? record : undefined;
}

const gone = (pid: number) => pollUntil(async () => (isAlive(pid) ? { done: false } : { done: true, value: undefined }), {
  intervalMs: 50, timeoutMs: 15_000, onTimeout: () => new Error(`engine ${pid} still runs`),
});

describe('aim run --parallel', () => {
  it('gives the loaded engine that many sequences (llama.cpp\'s /props slots) and answers concurrent requests each on its own', async () => {
    const record = await ws.json(['run', 'team/tiny:v1', '--name', 'par', '--threads', '1'], { env: { AIM_PARALLEL: '3' } });
    const base = record.endpoint.replace(/\/v1$/, '');
    expect(await (await fetch(`${base}/props`)).json()).toMatchObject({ total_slots: 3, default_generation_settings: { n_ctx: 2048 } });
    const ask = (seed: number) => fetch(`${record.endpoint}/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: record.modelId, prompt: 'Once upon a time', max_tokens: 8, seed, temperature: 0 }),
    }).then(async (reply) => ({ status: reply.status, body: await reply.json() }));
    const answers = await Promise.all([1, 2, 3, 4].map(ask));
    for (const answer of answers) expect(answer.status).toBe(200);
    // The same prompt at temperature 0 gives the same text on every sequence: none saw another's tokens.
    expect(new Set(answers.map((a) => a.body.choices[0].text)).size).toBe(1);
    expect(await ws.json(['stop', 'par'])).toEqual({ stopped: ['par'], gone: [] });
  });
});

describe('aim run --foreground', () => {
  it('serves on every interface with --host 0.0.0.0 and stops the engine when it gets SIGTERM', async () => {
    const running = ws.start(['run', 'team/tiny:v1', '--name', 'fg', '--foreground', '--threads', '1', '--host', '0.0.0.0']);
    let record: Awaited<ReturnType<typeof readyRecord>>;
    const result = await signalWhen(running, async () => {
      record = await readyRecord('fg');
      // The record is ready a moment before the command reports it: the signal waits for the report.
      if (!record || !running.stdoutSoFar().includes('Model deployed')) return false;
      expect((await fetch(`${record.endpoint.replace(/\/v1$/, '')}/health`)).status).toBe(200);
      return true;
    }, 'SIGTERM');
    expect(result.signal).toBe('SIGTERM');
    expect(result.stdout).toContain('Model deployed');
    expect(await readFile(record!.logFile, 'utf8')).toContain(`listening on http://0.0.0.0:${record!.port}`);
    await gone(record!.pid);
    // Stopped on purpose, so gone from ps rather than listed as failed.
    expect((await ws.json(['ps'])).deployments.map((d: { name: string }) => d.name)).not.toContain('fg');
  });

  it('exits non-zero with one plain line when the engine dies under it', async () => {
    const running = ws.start(['run', 'team/tiny:v1', '--name', 'fg2', '--foreground', '--threads', '1']);
    let record: Awaited<ReturnType<typeof readyRecord>>;
    while (!(record = await readyRecord('fg2'))) await new Promise((resolve) => setTimeout(resolve, 20));
    process.kill(record.pid, 'SIGKILL');
    const result = await running.result;
    expect(result.code).toBe(8); // EngineError
    expect(expectUserError(result)).toMatch(/fg2 stopped: its engine is gone/);
    // Started again under the same name, as a service manager restarting it would.
    const again = await ws.json(['run', 'team/tiny:v1', '--name', 'fg2', '--threads', '1']);
    expect(again.state).toBe('ready');
    await ws.json(['stop', 'fg2']);
  });
});
