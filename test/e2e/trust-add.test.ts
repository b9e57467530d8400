// `aim trust add` run again, as a setup script on every puller's machine runs it: the same key under the same name
// changes nothing and succeeds; the key under a second name, or the name on another key, is refused (exit 5) with
// model_repos.yaml untouched. Through the built CLI.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace, expectUserError, type Workspace } from '../helpers/cli.js';

describe('aim trust add, again', () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ team: { type: 'local', path: `${dir}/store` } }));
    await ws.json(['key', 'generate', 'alice']);
    await ws.json(['key', 'generate', 'bob']);
  });
  afterAll(() => ws.cleanup());

  it('of the same key under the same name changes nothing and succeeds', async () => {
    const added = await ws.json(['trust', 'add', 'team', 'alice.pub', '--name', 'alice']);
    const config = await readFile(ws.config, 'utf8');
    const again = await ws.json(['trust', 'add', 'team', 'alice.pub', '--name', 'alice']);
    expect(again).toMatchObject({ repo: 'team', name: 'alice', keyId: added.keyId, unchanged: true });
    const text = await ws.run(['trust', 'add', 'team', 'alice.pub', '--name', 'alice']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^repository team already trusts alice \(key id [0-9a-f]{64}\)/);
    expect(await readFile(ws.config, 'utf8')).toBe(config);
  });

  it('of the same key under another name is refused: one key, one name in the list and for remove', async () => {
    const config = await readFile(ws.config, 'utf8');
    const result = await ws.run(['trust', 'add', 'team', 'alice.pub', '--name', 'alice2']);
    expect(result.code).toBe(5);
    expectUserError(result, /repository team already trusts this key \(key id [0-9a-f]{64}\) as alice$/);
    expect(result.stderr).toContain('aim trust remove team alice, then add again');
    expect(await readFile(ws.config, 'utf8')).toBe(config);
  });

  it('of another key under a name already given is refused', async () => {
    const config = await readFile(ws.config, 'utf8');
    const result = await ws.run(['trust', 'add', 'team', 'bob.pub', '--name', 'alice']);
    expect(result.code).toBe(5);
    expectUserError(result, /repository team already trusts another key named alice$/);
    expect(await readFile(ws.config, 'utf8')).toBe(config);
    await ws.json(['trust', 'add', 'team', 'bob.pub', '--name', 'bob']);
    const listed = await ws.json(['trust', 'list', 'team']);
    expect(listed.repositories[0].keys.map((key: { name: string }) => key.name)).toEqual(['alice', 'bob']);
  });
});
