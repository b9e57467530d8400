// install, update and the MCP pull tool under the user's trust policy, through the built CLI: each refuses a version
// no trusted key signed with the same plain line as pull (exit 4) before anything lands under a final name, and
// update keeps the installed version recorded, on disk and runnable.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PATH, createWorkspace, expectUserError, pushFiles, type Workspace } from '../helpers/cli.js';
import { runBounded } from '../hostile/harness.js';

let ws: Workspace;

const push = (ref: string, files: Record<string, string>, ...flags: string[]): Promise<string> => pushFiles(ws, ref, files, ...flags);

const versionsOnDisk = (model: string) => readdir(join(ws.home, 'models', 'team', model)).catch(() => [] as string[]);
const REFUSED = (ref: string) => new RegExp(`refusing ${ref} \\([0-9a-f]+\\): no trusted key signed it\\. Found: no signature\\. Trusted: alice`);

beforeAll(async () => {
  ws = await createWorkspace((dir) => ({ team: { type: 'local', path: join(dir, 'store') }, lax: { type: 'local', path: join(dir, 'lax') } }));
  await ws.json(['key', 'generate', 'alice']);
  await ws.json(['trust', 'add', 'team', 'alice.pub', '--name', 'alice']);
});
afterAll(() => ws.cleanup());

describe('aim install under the policy', () => {
  it('installs a version alice signed', async () => {
    const digest = await push('team/signed:v1', { 'a.txt': 'signed' }, '--sign', '--key', 'alice.key');
    const result = await ws.json(['install', 'team/signed:v1']);
    expect(result.record.digest).toBe(digest);
    expect(await readFile(join(result.folder, 'a.txt'), 'utf8')).toBe('signed');
  });

  it('refuses an unsigned version with the same line as pull, and nothing lands in AIM_HOME', async () => {
    await push('team/unsigned:v1', { 'a.txt': 'nobody vouched' });
    const result = await runBounded(ws, ['install', 'team/unsigned:v1'], { maxRssMiB: 300 });
    expectUserError(result, REFUSED('team/unsigned:v1'));
    expect(result.code).toBe(4);
    expect(existsSync(join(ws.home, 'models', 'team', 'unsigned'))).toBe(false);
    expect(existsSync(join(ws.home, 'installed', 'team', 'unsigned'))).toBe(false);
  });

  it('--require-signed refuses where the policy does not ask', async () => {
    await push('lax/m:v1', { 'a.txt': 'lax' });
    const result = await ws.run(['install', 'lax/m:v1', '--require-signed']);
    expectUserError(result, /refusing lax\/m:v1 \([0-9a-f]+\): no trusted key signed it\. Found: no signature\. Trusted: none/);
    expect(result.code).toBe(4);
    expect(existsSync(join(ws.home, 'models', 'lax'))).toBe(false);
  });
});

describe('aim update under the policy', () => {
  it('keeps the installed version when the tag moves to an unsigned one', async () => {
    const good = await push('team/moving:stable', { 'w.bin': 'good weights' }, '--sign', '--key', 'alice.key');
    const installed = await ws.json(['install', 'team/moving:stable']);
    const evil = await push('team/moving:stable', { 'w.bin': 'evil weights' });
    expect(evil).not.toBe(good);

    const result = await ws.run(['update', 'team/moving']);
    expect(result.code).toBe(4);
    expect(result.stdout + result.stderr).toMatch(REFUSED('team/moving:stable'));
    expect(result.stderr).not.toMatch(/\n\s+at /);

    const record = (await ws.json(['installed'])).models.find((m: { reference: string }) => m.reference === 'team/moving:stable');
    expect(record.digest).toBe(good);
    expect(await versionsOnDisk('moving')).toEqual([good.slice('blake3:'.length)]);
    expect(await readFile(join(installed.folder, 'w.bin'), 'utf8')).toBe('good weights');
    // Still whole: every file re-hashed against the installed version.
    expect((await ws.run(['verify', installed.folder])).code).toBe(0);
  });

  it('moves to a newer version alice signed', async () => {
    const next = await push('team/moving:stable', { 'w.bin': 'better weights' }, '--sign', '--key', 'alice.key');
    const result = await ws.json(['update', 'team/moving']);
    expect(result.updates).toMatchObject([{ reference: 'team/moving:stable', status: 'updated', to: next }]);
    expect(await versionsOnDisk('moving')).toEqual([next.slice('blake3:'.length)]);
  });

  it('--require-signed keeps an unsigned installed version where the policy does not ask', async () => {
    await ws.json(['install', 'lax/m:v1']);
    const before = (await ws.json(['installed'])).models.find((m: { reference: string }) => m.reference === 'lax/m:v1').digest;
    await push('lax/m:v1', { 'a.txt': 'lax, moved' });
    const result = await ws.run(['update', 'lax/m', '--require-signed']);
    expect(result.code).toBe(4);
    const after = (await ws.json(['installed'])).models.find((m: { reference: string }) => m.reference === 'lax/m:v1').digest;
    expect(after).toBe(before);
  });
});

describe('the MCP pull and run tools under the policy', () => {
  it('refuse an unsigned version as a tool error with exit code 4, writing nothing', async () => {
    await mkdir(ws.path('agent'), { recursive: true });
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI_PATH, 'mcp', '--root', ws.path('agent')], cwd: ws.dir, env: { ...ws.env, NO_COLOR: '1' }, stderr: 'pipe' });
    const client = new Client({ name: 'aim-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      const refused = (await client.callTool({ name: 'pull', arguments: { reference: 'team/unsigned:v1', dest: 'out' } })) as CallToolResult;
      expect(refused.isError).toBe(true);
      expect(refused.structuredContent).toMatchObject({ error: { code: 4, message: expect.stringMatching(REFUSED('team/unsigned:v1')) } });
      expect(existsSync(ws.path('agent', 'out'))).toBe(false);

      const strict = (await client.callTool({ name: 'pull', arguments: { reference: 'lax/m:v1', dest: 'lax', require_signed: true } })) as CallToolResult;
      expect(strict.structuredContent).toMatchObject({ error: { code: 4 } });
      expect(existsSync(ws.path('agent', 'lax'))).toBe(false);

      // run refuses before anything is pulled into AIM_HOME or an engine starts.
      const run = (await client.callTool({ name: 'run', arguments: { model: 'lax/m:v1', require_signed: true } })) as CallToolResult;
      expect(run.structuredContent).toMatchObject({ error: { code: 4, message: expect.stringMatching(/refusing lax\/m:v1 .*Trusted: none/) } });

      const pulled = (await client.callTool({ name: 'pull', arguments: { reference: 'team/signed:v1', dest: 'signed' } })) as CallToolResult;
      expect(pulled.isError, JSON.stringify(pulled.content)).toBeFalsy();
      expect(await readFile(ws.path('agent', 'signed', 'a.txt'), 'utf8')).toBe('signed');
    } finally {
      await client.close();
    }
  });
});
