// `aim exec` and `aim run NAME "prompt"` through the built CLI with the tiny GGUF fixture: answered by a running
// deployment when there is one (which keeps running), otherwise by the model loaded for the call and released
// after, also when the call is interrupted; stdout is one JSON document (or, for run, the answer's text).
import { spawn } from 'node:child_process';
import { readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTinyGgufInto } from '../../fixtures/tiny-gguf.js';
import { isAlive } from '../../src/serving/process-utils.js';
import { CLI_PATH, createWorkspace, expectUserError, signalWhen, type Workspace } from '../helpers/cli.js';

const NO_KAMIWAZA = { KAMIWAZA_BASE_URL: '', KAMIWAZA_BASE_URI: '', KAMIWAZA_API_URL: '' };
const CHAT = JSON.stringify({ messages: [{ role: 'user', content: 'hello' }], max_tokens: 5, temperature: 0 });

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace((dir) => ({ team: { type: 'local', path: join(dir, 'store') } }), NO_KAMIWAZA);
  await writeTinyGgufInto(ws.path('src'), { quant: 'q8_0', seed: 5 });
  await ws.json(['push', 'team/tiny:v1', ws.path('src')]);
});
afterAll(async () => {
  await ws.run(['stop', '--all']);
  await ws.cleanup();
});

const records = async () => (await readdir(join(ws.home, 'deployments')).catch(() => [] as string[])).filter((f) => f.endsWith('.json'));

/** The CLI with `input` on its stdin. */
function runWithStdin(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI_PATH, ...args], { cwd: ws.dir, env: { ...process.env, ...ws.env, NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  child.stdin.end(input);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('aim exec', () => {
  it('with no deployment: pulls, loads for the call, prints one response object and leaves nothing running', async () => {
    const result = await ws.run(['exec', 'team/tiny:v1', '--input', CHAT]);
    expect(result.code, result.stderr).toBe(0);
    const response = JSON.parse(result.stdout);
    expect(response).toMatchObject({ object: 'chat.completion', model: 'team/tiny:v1', choices: [{ message: { role: 'assistant' }, finish_reason: 'length' }], usage: { completion_tokens: 5 } });
    expect(result.stderr).toMatch(/loaded for this request and released/);
    expect((await ws.json(['ps'])).deployments).toEqual([]);
    expect(await records()).toEqual([]);
  });

  it('reads the request from a file or stdin, and a completion too', async () => {
    await writeFile(ws.path('request.json'), JSON.stringify({ prompt: 'Once upon a time', max_tokens: 3 }));
    // The user's own file, named through a link as `cat` would take it.
    await symlink('request.json', ws.path('linked.json'));
    const fromFile = await ws.run(['exec', 'team/tiny:v1', '--input-file', 'linked.json', '-q']);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(JSON.parse(fromFile.stdout)).toMatchObject({ object: 'text_completion', choices: [{ text: expect.any(String) }], usage: { completion_tokens: 3 } });
    const fromStdin = await runWithStdin(['exec', 'team/tiny:v1', '--input-file', '-', '-q'], CHAT);
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    expect(JSON.parse(fromStdin.stdout)).toMatchObject({ object: 'chat.completion' });
  });

  it('with a deployment of that version running: sent to it, and it keeps running', async () => {
    const record = await ws.json(['run', 'team/tiny:v1', '--threads', '1', '--ctx-size', '512']);
    try {
      const result = await ws.run(['exec', 'team/tiny:v1', '--input', CHAT]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/answered by deployment tiny/);
      expect(result.stderr).not.toMatch(/loading/);
      expect(JSON.parse(result.stdout)).toMatchObject({ object: 'chat.completion', model: 'team/tiny:v1' });
      expect((await ws.json(['ps'])).deployments).toMatchObject([{ name: 'tiny', status: 'running', pid: record.pid }]);
      expect(await records()).toEqual(['tiny.json']);
    } finally {
      await ws.json(['stop', 'tiny']);
    }
  });

  it('stops the model it loaded when interrupted while it answers, leaving no deployment', async () => {
    // A long answer (the tiny model takes seconds for it), interrupted once the engine is serving it.
    const long = JSON.stringify({ prompt: 'Once', max_tokens: 4000 });
    // The context comes from the setting's variable, as for `aim run`: with the default 2048 the request is refused.
    const running = ws.start(['exec', 'team/tiny:v1', '--input', long], { env: { AIM_CTX_SIZE: '4096' } });
    let pid: number | undefined;
    let cmdline: string[] = [];
    const result = await signalWhen(running, async () => {
      for (const file of await records()) {
        const record = JSON.parse(await readFile(join(ws.home, 'deployments', file), 'utf8').catch(() => '{}'));
        if (record.port) ({ pid, cmdline } = record);
      }
      return pid !== undefined;
    }, 'SIGINT');
    expect(cmdline.join(' ')).toContain('--ctx-size 4096');
    expect(result.code ?? result.signal).toMatch(/^(130|SIGINT)$/);
    while (isAlive(pid!)) await new Promise((r) => setTimeout(r, 20));
    // The record it left names a server that is gone: ps prunes it.
    expect((await ws.json(['ps'])).deployments).toEqual([]);
    expect(await records()).toEqual([]);
  });

  it('refuses bad input in one line naming the flag or file', async () => {
    expectUserError(await ws.run(['exec', 'team/tiny:v1', '--input', '{"messages": [']), /--input is not valid JSON/);
    expectUserError(await ws.run(['exec', 'team/tiny:v1', '--input', '{"messages": []}']), /--input is not a valid request: messages: needs at least one message/);
    expectUserError(await ws.run(['exec', 'team/tiny:v1', '--input', '{"prompt": "x", "stream": true}']), /asks for a stream, which exec does not offer/);
    expectUserError(await ws.run(['exec', 'team/tiny:v1', '--input', '[1]']), /--input must be a JSON object/);
    expectUserError(await ws.run(['exec', 'team/tiny:v1', '--input-file', 'missing.json']), /--input-file missing\.json does not exist/);
    expectUserError(await ws.run(['exec', 'team/tiny:v1', '--input-file', ws.dir]), /--input-file .* is a folder/);
    expectUserError(await ws.run(['exec', 'team/tiny:v1']), /give the request with --input JSON or --input-file FILE/);
    expectUserError(await ws.run(['exec', 'team/nothing:v1', '--input', CHAT]), /model nothing not found in repository team/);
    expect(await records()).toEqual([]);
  });
});

describe('aim run NAME "prompt"', () => {
  it('prints the answer as plain text, or the response object with --json', async () => {
    const plain = await ws.run(['run', 'team/tiny:v1', 'hello there', '-q']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout.trim().length).toBeGreaterThan(0);
    expect(plain.stdout).not.toMatch(/^\s*\{/);
    const json = await ws.json(['run', 'team/tiny:v1', 'hello there']);
    expect(json).toMatchObject({ object: 'chat.completion', choices: [{ message: { role: 'assistant', content: expect.any(String) } }] });
    expect((await ws.json(['ps'])).deployments).toEqual([]);
    expectUserError(await ws.run(['run', 'team/tiny:v1', 'hello', '--port', '8080']), /--port does not apply when aim run is given a prompt/);
  });
});
