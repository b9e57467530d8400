// `aim mcp` as a hostile or clumsy agent drives it, over a raw JSON-RPC pipe so every byte the server writes is seen:
// escape sequences in arguments and in a repository's texts never reach a client's text raw, and a call the client
// cancels does not keep the server from ending when stdin closes.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { CLI_PATH, createWorkspace, type Workspace } from '../helpers/cli.js';

const ESC = '\x1b';
// Every control character but the line break, plus DEL, C1 and bidirectional overrides.
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const INITIALIZE = [
  { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'sh', version: '1' } } },
  { jsonrpc: '2.0', method: 'notifications/initialized' },
];

let ws: Workspace;

beforeAll(async () => {
  ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/store` } }));
  await generateModel(ws.path('good'), { seed: 1, files: [{ path: 'weights.bin', size: 1 << 20 }] });
  const description = `fine-tune ${ESC}[2J${ESC}]0;pwned${ESC}\\ \u009b31m \u202eevil`;
  const pushed = await ws.run(['push', 'r/described:v1', ws.path('good'), '--description', description, '--json']);
  expect(pushed.code, pushed.stderr).toBe(0);
});

afterAll(async () => {
  await ws?.cleanup();
});

type Answer = { id: number; result?: { content: Array<{ text: string }>; structuredContent: any; isError?: boolean } };

/** Starts `aim mcp`, writes the requests after `initialize` in one go, closes stdin and waits for it to end. */
async function serve(requests: unknown[]): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string; answers: Answer[] }> {
  const child = spawn(process.execPath, [CLI_PATH, 'mcp', '--root', ws.path('agent')], { cwd: ws.dir, env: { ...process.env, ...ws.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  // A server that never ends fails the test instead of hanging it.
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const ended = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  child.stdin.end([...INITIALIZE, ...requests].map((line) => `${JSON.stringify(line)}\n`).join(''));
  const { code, signal } = await ended;
  clearTimeout(timer);
  const answers = stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Answer);
  return { code, signal, stdout, stderr, answers };
}

const toolCall = (id: number, name: string, args: Record<string, unknown>) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

describe('escape sequences never reach what a client shows', () => {
  it('in arguments echoed by an error and in a repository\'s annotations: escaped in the text, verbatim in the data', async () => {
    const served = await serve([
      toolCall(2, 'inspect', { reference: 'r/described:v1' }),
      toolCall(3, 'list_versions', { repo: 'r', model: `m${ESC}[31m` }),
      toolCall(4, 'stop', { names: [`x\u009b2J`] }),
      toolCall(5, 'search', { query: 'x', repos: [`r${ESC}]0;t\u0007`] }),
    ]);
    expect(served.code, served.stderr).toBe(0);
    // The JSON-RPC lines themselves, for a person trying the server by hand in a terminal.
    expect(served.stdout.trimEnd()).not.toMatch(RAW_CONTROL);
    const byId = new Map(served.answers.map((a) => [a.id, a.result!]));
    for (const id of [2, 3, 4, 5]) expect(byId.get(id)!.content[0]!.text, `answer ${id}`).not.toMatch(RAW_CONTROL);
    expect(byId.get(2)!.structuredContent.annotations.description).toBe(`fine-tune ${ESC}[2J${ESC}]0;pwned${ESC}\\ \u009b31m \u202eevil`);
    expect(byId.get(3)!.content[0]!.text).toMatch(/^aim: error: invalid model name "m\\x1b\[31m"/);
    expect(byId.get(4)!.content[0]!.text).toMatch(/^aim: error: invalid deployment name "x\\x9b2J"/);
    expect(byId.get(5)!.content[0]!.text).toMatch(/hint: .*r\\x1b\]0;t\\x07/);
  });
});

describe('a tool name that is not one of aim\'s', () => {
  it('is not found, also when it names a member of every JavaScript object', async () => {
    const names = ['constructor', '__proto__', 'toString', 'hasOwnProperty'];
    const served = await serve(names.map((name, index) => toolCall(index + 2, name, {})));
    expect(served.code, served.stderr).toBe(0);
    for (const [index, name] of names.entries()) {
      const result = served.answers.find((a) => a.id === index + 2)!.result!;
      expect(result.isError).toBe(true);
      expect(result.structuredContent.error).toMatchObject({ code: 3, message: `Tool ${name} not found` });
    }
  });
});

describe('a call the client cancels', () => {
  it('goes unanswered, as the protocol asks, and the server still ends with 0 once stdin closes', async () => {
    const served = await serve([
      toolCall(2, 'pull', { reference: 'r/described:v1', dest: 'cancelled' }),
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 2, reason: 'the agent gave up' } },
    ]);
    expect(served.stderr).not.toMatch(/internal error/);
    expect({ code: served.code, signal: served.signal }).toEqual({ code: 0, signal: null });
    expect(served.answers.map((a) => a.id)).toEqual([1]);
  });
});
