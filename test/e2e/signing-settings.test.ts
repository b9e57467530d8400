// The trust policy in the settings (`aim: {trust: ...}` of model_repos.yaml) through the built CLI: it applies to
// every repository or to those it names; beside a repository's own `trust:` the stricter wins (signatures required
// when either asks, keys of both trusted), and `aim trust list` says where each key came from.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace, expectUserError, type Workspace } from '../helpers/cli.js';

let ws: Workspace;
let alice: string;
let carol: string;

async function writeConfig(settingsTrust: string): Promise<void> {
  await writeFile(ws.config, [
    'repositories:',
    `  team: {type: local, path: ${ws.path('team')}, trust: {require: none, keys: [{name: alice, path: alice.pub}]}}`,
    `  other: {type: local, path: ${ws.path('other')}}`,
    'aim:',
    '  serve: {ctx-size: 1024}',
    settingsTrust,
  ].join('\n'));
}

async function push(ref: string, text: string, ...flags: string[]): Promise<void> {
  const dir = ws.path('models', ref.replace(/\W+/g, '-'));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'a.txt'), text);
  await ws.json(['push', ref, dir, ...flags]);
}

async function pullCode(ref: string): Promise<number | null> {
  const dest = ws.path('out', ref.replace(/\W+/g, '-'));
  const result = await ws.run(['pull', ref, dest]);
  if (result.code !== 0) expect(existsSync(dest)).toBe(false);
  return result.code;
}

beforeAll(async () => {
  ws = await createWorkspace((dir) => ({ team: { type: 'local', path: join(dir, 'team') }, other: { type: 'local', path: join(dir, 'other') } }));
  alice = (await ws.json(['key', 'generate', 'alice'])).keyId;
  carol = (await ws.json(['key', 'generate', 'carol'])).keyId;
  await writeConfig('');
  await push('team/m:unsigned', 'nobody');
  await push('team/m:alice', 'alice', '--sign', '--key', 'alice.key');
  await push('team/m:carol', 'carol', '--sign', '--key', 'carol.key');
  await push('other/m:unsigned', 'nobody else');
});
afterAll(() => ws.cleanup());

describe('a trust block in the aim: settings', () => {
  it('for every repository: the stricter requirement wins, and keys of both places are trusted', async () => {
    await writeConfig('  trust: {require: signed, keys: [{name: carol, path: carol.pub}]}');
    expect(await ws.json(['trust', 'list'])).toEqual({
      repositories: [
        { repo: 'team', require: 'signed', keys: [{ name: 'alice', keyId: alice, from: 'repository' }, { name: 'carol', keyId: carol, from: 'settings' }] },
        { repo: 'other', require: 'signed', keys: [{ name: 'carol', keyId: carol, from: 'settings' }] },
      ],
    });
    expect((await ws.run(['trust', 'list'])).stdout).toMatch(/team\s+signed\s+carol\s+settings\s+[0-9a-f]{64}/);
    // The repository says `require: none`; the settings ask: refused.
    const refused = await ws.run(['pull', 'team/m:unsigned', ws.path('out', 'refused')]);
    expectUserError(refused, /refusing team\/m:unsigned .*Found: no signature\. Trusted: alice \([0-9a-f]{16}\), carol \([0-9a-f]{16}\)/);
    expect(refused.code).toBe(4);
    expect(await pullCode('team/m:alice')).toBe(0);
    expect(await pullCode('team/m:carol')).toBe(0);
    expect(await pullCode('other/m:unsigned')).toBe(4);
    // Other settings of the section still read: the block is not an unknown setting.
    expect((await ws.run(['config', 'get', 'serve.ctx-size'])).stdout.trim()).toBe('1024');
  });

  it('for named repositories only', async () => {
    await writeConfig('  trust: {require: signed, keys: [{name: carol, path: carol.pub}], repositories: [other]}');
    expect(await pullCode('team/m:unsigned')).toBe(0);
    expect(await pullCode('other/m:unsigned')).toBe(4);
    const listed = await ws.json(['trust', 'list', 'team']);
    expect(listed.repositories).toEqual([{ repo: 'team', require: 'none', keys: [{ name: 'alice', keyId: alice, from: 'repository' }] }]);
  });

  it('a bad block is a config error naming it', async () => {
    await writeConfig('  trust: {require: maybe}');
    const result = await ws.run(['pull', 'team/m:alice', ws.path('out', 'bad')]);
    expectUserError(result, /trust block at aim\.trust in .*model_repos\.yaml: require: expected \("signed" \| "none"\), got "maybe"/);
    expect(result.code).toBe(7);
  });

  it('a settings key that is not a P-256 public key is a config error', async () => {
    await writeFile(ws.path('garbage.pub'), 'hello');
    await writeConfig('  trust: {require: signed, keys: [{name: junk, path: garbage.pub}]}');
    const result = await ws.run(['pull', 'team/m:alice', ws.path('out', 'junk')]);
    expectUserError(result, /trusted key junk of aim\.trust/);
    expect(result.code).toBe(7);
  });
});
