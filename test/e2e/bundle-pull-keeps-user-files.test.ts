// A bundle pull looks at every member's folder before it pulls any: the user's files in any of them (at a file's
// name or where a folder goes) stop the whole bundle in one refusal that counts them all, with DEST as it was and
// no member half there; --force replaces them in every member. Through the built CLI.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace, expectSameTree, writeTree, type Workspace } from '../helpers/cli.js';
import { expectRefused } from '../helpers/pull-refusal.js';
import { expectUnchanged, snapshot } from '../hostile/harness.js';

describe('a bundle pull and the users\' files in its members\' folders', () => {
  let ws: Workspace;
  let dests = 0;
  const freshDest = () => ws.path(`dest-${++dests}`);

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    await writeTree(ws.path('chat'), { 'config.json': '{"chat": true}', 'weights.bin': 'chat weights '.repeat(5000) });
    await writeTree(ws.path('embed'), { 'config.json': '{"embed": true}', 'sub/x.json': '{"x": 1}' });
    await ws.json(['push', 'r/chat:v1', ws.path('chat')]);
    await ws.json(['push', 'r/embed:v1', ws.path('embed')]);
    await ws.json(['bundle', 'r/kit:v1', 'chat:v1', 'embed:v1']);
  });
  afterAll(() => ws.cleanup());

  it('refuses the second member\'s files before pulling the first', async () => {
    const dest = freshDest();
    await writeTree(dest, { 'embed/config.json': 'my config', 'embed/sub': 'mine' });
    const before = await snapshot(dest);
    expectRefused(await ws.run(['pull', 'r/kit:v1', dest]), join(dest, 'embed', 'config.json'), 1);
    await expectUnchanged(dest, before);
  });

  it('names the first member\'s file and counts every member\'s in one line; --force replaces them all', async () => {
    const dest = freshDest();
    await writeTree(dest, { 'chat/config.json': 'my chat config', 'embed/config.json': 'my config', 'embed/sub': 'mine' });
    const before = await snapshot(dest);
    expectRefused(await ws.run(['pull', 'r/kit:v1', dest]), join(dest, 'chat', 'config.json'), 2);
    await expectUnchanged(dest, before);

    const pulled = await ws.json(['pull', 'r/kit:v1', dest, '--force']);
    expect(pulled.members.map((m: { model: string }) => m.model)).toEqual(['chat', 'embed']);
    await expectSameTree(join(dest, 'chat'), ws.path('chat'));
    await expectSameTree(join(dest, 'embed'), ws.path('embed'));
  });
});
