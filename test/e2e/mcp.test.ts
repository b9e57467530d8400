// `aim mcp` driven as an agent drives it: the built CLI started by the MCP SDK's own Client over stdio, against a local
// repository holding the tiny GGUF fixture. Every answer must be JSON-RPC (the client reports anything else on stdout
// as an error), failures come back as tool errors and the server keeps serving.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTinyGgufInto } from '../../fixtures/tiny-gguf.js';
import { isAlive } from '../../src/serving/process-utils.js';
import { CLI_PATH, createWorkspace, expectSameTree, type Workspace } from '../helpers/cli.js';
import { startPaused } from '../helpers/pull-pause.js';

const NO_KAMIWAZA = { KAMIWAZA_BASE_URL: '', KAMIWAZA_BASE_URI: '', KAMIWAZA_API_URL: '' };
const TOOLS = ['exec', 'inspect', 'list_models', 'list_repositories', 'list_versions', 'ps', 'pull', 'run', 'search', 'stop'];

let ws: Workspace;
let client: Client;
let transport: StdioClientTransport;
const clientErrors: Error[] = [];
let stderr = '';

async function call(name: string, args: Record<string, unknown> = {}, options: Parameters<Client['callTool']>[2] = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args }, undefined, options)) as CallToolResult;
}

/** A successful call's structured result; fails the test with the tool's error text otherwise. */
async function ok<T = any>(name: string, args: Record<string, unknown> = {}, options: Parameters<Client['callTool']>[2] = {}): Promise<T> {
  const result = await call(name, args, options);
  expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
  // The text rendering is the same data, for clients that read only text.
  expect(JSON.parse((result.content[0] as { text: string }).text)).toEqual(result.structuredContent);
  return result.structuredContent as T;
}

function expectToolError(result: CallToolResult, message: RegExp, code: number): void {
  expect(result.isError).toBe(true);
  const text = (result.content[0] as { text: string }).text;
  expect(text).toMatch(/^aim: error: .+\n {2}hint: \S/);
  expect(text).toMatch(message);
  expect(result.structuredContent).toMatchObject({ error: { code, message: expect.stringMatching(message), hint: expect.any(String) } });
}

beforeAll(async () => {
  ws = await createWorkspace((dir) => ({ team: { type: 'local', path: join(dir, 'store') } }), NO_KAMIWAZA);
  await writeTinyGgufInto(ws.path('src'), { quant: 'q8_0', seed: 5 });
  await ws.json(['push', 'team/tiny:v1', ws.path('src')]);
  await mkdir(ws.path('agent'), { recursive: true });
  transport = new StdioClientTransport({
    command: process.execPath, args: [CLI_PATH, 'mcp', '--root', ws.path('agent')], cwd: ws.dir,
    env: { ...ws.env, NO_COLOR: '1' }, stderr: 'pipe',
  });
  transport.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  client = new Client({ name: 'aim-test', version: '1.0.0' });
  client.onerror = (error) => clientErrors.push(error);
  await client.connect(transport);
});

afterAll(async () => {
  await client?.close();
  await ws.run(['stop', '--all']);
  await ws.cleanup();
});

describe('aim mcp over stdio with the SDK client', () => {
  it('introduces itself and lists every tool with an input schema', async () => {
    expect(client.getServerVersion()).toMatchObject({ name: 'aim' });
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(TOOLS);
    for (const tool of tools) {
      expect(tool.inputSchema.type).toBe('object');
      expect(tool.description).toBeTruthy();
    }
    const pull = tools.find((t) => t.name === 'pull')!;
    expect(pull.inputSchema.required?.sort()).toEqual(['dest', 'reference']);
    expect(tools.find((t) => t.name === 'exec')!.inputSchema.required?.sort()).toEqual(['input', 'model']);
  });

  it('lists repositories, models and versions and inspects a version as the CLI does', async () => {
    expect(await ok('list_repositories')).toEqual({ config: ws.config, repositories: [{ name: 'team', type: 'local', path: ws.path('store') }] });
    const all = await ok('list_models');
    expect(all).toMatchObject({ models: [{ repo: 'team', name: 'tiny', tags: expect.arrayContaining(['v1']) }], problems: [] });
    expect((await ok('list_models', { repo: 'team' })).models).toEqual(all.models);
    const cliInspect = await ws.json(['inspect', 'team/tiny:v1']);
    expect(await ok('list_versions', { repo: 'team', model: 'tiny' })).toMatchObject({ versions: expect.arrayContaining([expect.objectContaining({ tag: 'v1', digest: cliInspect.digest })]) });
    const cliSearch = await ws.json(['search', 'tiny']);
    const found = await ok('search', { query: 'tiny' });
    expect(found.hits).toEqual(cliSearch.hits);
    expect(found.hits).toMatchObject([{ repo: 'team', model: 'tiny' }]);
    expect((await ok('search', { query: 'no-such-model-anywhere' })).hits).toEqual([]);
    const inspected = await ok('inspect', { reference: 'team/tiny:v1' });
    expect(inspected).toEqual({
      repo: 'team', model: 'tiny', tag: 'v1', digest: cliInspect.digest, totalBytes: cliInspect.totalBytes, files: cliInspect.files, annotations: cliInspect.annotations,
    });
  });

  it('pulls into the root folder with progress notifications', async () => {
    const progress: Array<{ progress: number; total?: number }> = [];
    const pulled = await ok('pull', { reference: 'team/tiny:v1', dest: 'models/tiny' }, { onprogress: (p) => progress.push(p) });
    expect(pulled).toMatchObject({ repo: 'team', model: 'tiny', tag: 'v1', dest: ws.path('agent', 'models', 'tiny'), files: 1 });
    await expectSameTree(ws.path('agent', 'models', 'tiny'), ws.path('src'));
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.at(-1)).toMatchObject({ progress: pulled.totalBytes, total: pulled.totalBytes });
    const values = progress.map((p) => p.progress);
    expect(values).toEqual([...values].sort((a, b) => a - b));
  });

  it('tells the client, as progress, that a pull waits for another aim command writing the folder', async () => {
    const dest = ws.path('agent', 'models', 'held');
    const held = await startPaused(ws, 'AIM_TEST_PAUSE_BEFORE_RENAMES', ['pull', 'team/tiny:v1', dest]);
    const messages: string[] = [];
    let heard: () => void;
    const waiting = new Promise<void>((resolve) => (heard = resolve));
    const pulling = ok('pull', { reference: 'team/tiny:v1', dest: 'models/held' }, {
      onprogress: (p) => {
        if (p.message) messages.push(p.message);
        if (p.message?.startsWith('waiting for another aim command')) heard();
      },
    });
    await waiting;
    const line = messages.find((m) => m.startsWith('waiting for'))!;
    expect(line.startsWith(`waiting for another aim command writing ${dest} (pid ${held.running.child.pid}, since `), line).toBe(true);
    expect(line).toContain(`: aim pull team/tiny:v1 ${dest}`);
    await held.go();
    expect((await held.running.result).code).toBe(0);
    expect(await pulling).toMatchObject({ dest, filesUnchanged: 1 });
    await expectSameTree(dest, ws.path('src'));
  });

  it('refuses to replace a file of the user\'s in the folder unless told to force', async () => {
    const names = await readdir(ws.path('src'));
    await mkdir(ws.path('agent', 'mine'));
    await writeFile(ws.path('agent', 'mine', names[0]!), 'the user\'s own');
    expectToolError(await call('pull', { reference: 'team/tiny:v1', dest: 'mine' }), /mine\/.* is not aim's and would be replaced/, 5);
    expect(await readdir(ws.path('agent', 'mine'))).toEqual([names[0]]);
    expect(await readFile(ws.path('agent', 'mine', names[0]!), 'utf8')).toBe('the user\'s own');
    await ok('pull', { reference: 'team/tiny:v1', dest: 'mine', force: true });
    await expectSameTree(ws.path('agent', 'mine'), ws.path('src'));
  });

  it('answers a failing call with a tool error and keeps serving', async () => {
    expectToolError(await call('inspect', { reference: 'team/nothing:v1' }), /model nothing not found in repository team/, 3);
    // Refused by the SDK before any tool runs, in the same shape: an unknown tool, arguments off the schema.
    expectToolError(await call('pul', { reference: 'team/tiny:v1' }), /Tool pul not found/, 3);
    expectToolError(await call('pull', { reference: 'team/tiny:v1', dest: '' }), /Invalid arguments for tool pull/, 2);
    expectToolError(await call('list_versions', { repo: 'nowhere', model: 'x' }), /repository "nowhere" is not in/, 3);
    // An agent naming a folder outside the root: refused before anything is written.
    for (const dest of ['../outside', ws.path('outside'), '/tmp/aim-mcp-escape']) {
      expectToolError(await call('pull', { reference: 'team/tiny:v1', dest }), /is outside the folder this server may write to/, 2);
    }
    expect(existsSync(ws.path('outside'))).toBe(false);
    expect(existsSync('/tmp/aim-mcp-escape')).toBe(false);
    // A NUL in a folder name (JSON can carry one) is the agent's mistake, not an internal error.
    expectToolError(await call('pull', { reference: 'team/tiny:v1', dest: 'a\u0000b' }), /holds a control character/, 2);
    // A link inside the root leading out of it is not followed.
    await mkdir(ws.path('elsewhere'));
    await symlink(ws.path('elsewhere'), ws.path('agent', 'link'));
    const throughLink = await call('pull', { reference: 'team/tiny:v1', dest: 'link/tiny' });
    expect(throughLink.isError, JSON.stringify(throughLink.content)).toBe(true);
    expect((throughLink.content[0] as { text: string }).text).toMatch(/^aim: error: .*link/);
    expect(await readdir(ws.path('elsewhere'))).toEqual([]);
    expectToolError(await call('inspect', { reference: '../../etc/passwd' }), /./, 2);
    // Arguments that break the tool's schema are refused by it.
    const badArgs = await call('pull', { reference: 42 });
    expect(badArgs.isError).toBe(true);
    expectToolError(await call('exec', { model: 'team/tiny:v1', input: { prompt: 'x', messages: [] } }), /either "messages" \(a chat\) or "prompt"/, 2);
    expect(await ok('list_repositories')).toMatchObject({ repositories: [{ name: 'team' }] });
  });

  it('runs the model, answers exec through the deployment, shows it in ps and stops it', async () => {
    const events: string[] = [];
    const record = await ok('run', { model: 'team/tiny:v1', threads: 1, ctx_size: 512 }, { onprogress: (p) => p.message && events.push(p.message) });
    expect(record).toMatchObject({ name: 'tiny', engine: 'embedded', state: 'ready', modelId: 'team/tiny:v1', quant: 'Q8_0', facts: { architecture: 'llama' } });
    expect(events.some((e) => /serving on http:\/\/127\.0\.0\.1:\d+\/v1/.test(e))).toBe(true);
    expect((await ok('ps')).deployments).toMatchObject([{ name: 'tiny', status: 'running', endpoint: record.endpoint }]);

    const asked = await ok('exec', { model: 'team/tiny:v1', input: { messages: [{ role: 'user', content: 'hello' }], max_tokens: 4, temperature: 0 } });
    expect(asked).toMatchObject({ deployment: 'tiny', response: { object: 'chat.completion', model: 'team/tiny:v1', usage: { completion_tokens: 4 } } });
    expect((await ok('ps')).deployments).toMatchObject([{ name: 'tiny', status: 'running', pid: record.pid }]);

    expect(await ok('stop', { names: ['tiny'] })).toEqual({ stopped: ['tiny'], gone: [], problems: [] });
    expect(isAlive(record.pid)).toBe(false);
    expect((await ok('ps')).deployments).toEqual([]);
    expectToolError(await call('stop', { names: ['tiny'] }), /no deployment named tiny/, 3);
  });

  it('tells the client, as progress, that a run waits for an `aim install` writing the version in AIM_HOME', async () => {
    // A version not in AIM_HOME yet: the run pulls it, into the folder the paused install holds.
    await writeTinyGgufInto(ws.path('src-waited'), { quant: 'q8_0', seed: 6 });
    await ws.json(['push', 'team/tiny:waited', ws.path('src-waited')]);
    const held = await startPaused(ws, 'AIM_TEST_PAUSE_BEFORE_RENAMES', ['install', 'team/tiny:waited']);
    let heard: (line: string) => void;
    const waiting = new Promise<string>((resolve) => (heard = resolve));
    const running = ok('run', { model: 'team/tiny:waited', name: 'tiny-waited', threads: 1, ctx_size: 512 }, {
      onprogress: (p) => p.message?.startsWith('waiting for another aim command') && heard(p.message),
    });
    const line = await waiting;
    expect(line).toContain(`(pid ${held.running.child.pid}, since `);
    expect(line).toContain(': aim install team/tiny:waited');
    await held.go();
    expect((await held.running.result).code).toBe(0);
    expect(await running).toMatchObject({ name: 'tiny-waited', state: 'ready' });
    expect(await ok('stop', { names: ['tiny-waited'] })).toMatchObject({ stopped: ['tiny-waited'] });
  });

  it('answers exec with no deployment by loading the model for the call, and leaves none behind', async () => {
    const asked = await ok('exec', { model: 'team/tiny:v1', input: { prompt: 'Once upon', max_tokens: 3, temperature: 0 } });
    expect(asked).toMatchObject({ deployment: null, response: { object: 'text_completion', choices: [{ finish_reason: 'length' }], usage: { completion_tokens: 3 } } });
    expect((await ok('ps')).deployments).toEqual([]);
    expect(await readdir(join(ws.home, 'deployments'))).toEqual([]);
  });

  it('wrote nothing but JSON-RPC on stdout', () => {
    expect(clientErrors).toEqual([]);
    expect(stderr).not.toMatch(/internal error/);
  });
});

/** A server started by hand, with `lines` written to its stdin (kept open unless `end`). */
function startServer(lines: unknown[], end: boolean) {
  const child = spawn(process.execPath, [CLI_PATH, 'mcp'], { cwd: ws.dir, env: { ...process.env, ...ws.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const text = lines.map((l) => `${JSON.stringify(l)}\n`).join('');
  if (end) child.stdin.end(text);
  else child.stdin.write(text);
  return { child, exited, stdout: () => stdout };
}

const INITIALIZE = [
  { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'sh', version: '1' } } },
  { jsonrpc: '2.0', method: 'notifications/initialized' },
];

/** The JSON `text` holds, or undefined when it is not whole JSON yet. */
function parsedOrNothing(text: string): { port?: number; pid?: number } | undefined {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

describe('aim mcp as a raw JSON-RPC pipe', () => {
  it('answers every request read before stdin closed, then exits 0', async () => {
    const server = startServer([...INITIALIZE, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'list_models', arguments: {} } }], true);
    expect(await server.exited).toEqual({ code: 0, signal: null });
    const answers = server.stdout().trimEnd().split('\n').map((line) => JSON.parse(line));
    expect(answers.map((a) => a.id)).toEqual([1, 2]);
    expect(answers[1].result.structuredContent.models).toMatchObject([{ repo: 'team', name: 'tiny' }]);
  });

  it('ends on Ctrl-C while an exec is answering, stopping the model it loaded', async () => {
    const long = { prompt: 'Once', max_tokens: 4000 };
    const server = startServer([...INITIALIZE, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'exec', arguments: { model: 'team/tiny:v1', input: long, ctx_size: 4096 } } }], false);
    const recordsDir = join(ws.home, 'deployments');
    let pid: number | undefined;
    while (pid === undefined) {
      expect(server.child.exitCode, `the server ended before the model was loaded: ${server.stdout()}`).toBeNull();
      for (const file of await readdir(recordsDir).catch(() => [] as string[])) {
        // A record is written under a temp name first, then renamed: one caught half written is read next time.
        const record = parsedOrNothing(await readFile(join(recordsDir, file), 'utf8').catch(() => ''));
        if (record?.port) pid = record.pid;
      }
      if (pid === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    server.child.kill('SIGINT');
    expect(await server.exited).toMatchObject({ signal: 'SIGINT' });
    while (isAlive(pid)) await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await ws.json(['ps'])).deployments).toEqual([]);
    expect(await readdir(recordsDir)).toEqual([]);
  });
});
